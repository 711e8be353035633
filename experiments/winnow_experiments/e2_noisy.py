def run(c):
    raise NotImplementedError
