import Testing

@Suite struct InfoCommandTests {
  @Test func infoPrintsTheOpenBLASCore() throws {
    let run = try CLI.run(["info"])
    #expect(run.status == 0)
    #expect(run.stdout.contains("openblas core:"))
  }

  @Test func unknownSubcommandFailsWithUsage() throws {
    let run = try CLI.run(["no-such-command"])
    #expect(run.status != 0)
  }
}
