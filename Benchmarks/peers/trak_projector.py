"""TRAK's own CPU projector (``trak.projectors.BasicProjector``, default
block size) at the shapes of ProjectionBench: the tool LESS and TRAK users
run when they have no CUDA device. It regenerates P block by block on every
call, like ``projection.dense.*.panels``.

Figures: ``peer.trak.projection.<kind>`` (GFLOP/s at N × D × K),
``peer.trak.projection.<kind>.batch16`` (samples/s at LESS's batch of 16),
``peer.trak.projection.<kind>.lora`` (GFLOP/s on a slice of the LoRA D).
"""
import sys

from records import Recorder, best_time, parser


def main():
    args = parser(__doc__).parse_args()
    try:
        import torch
        from trak.projectors import BasicProjector, ProjectionType
    except Exception as e:  # the driver reports why in the README
        print(f"TRAK unavailable: {e}", file=sys.stderr)
        sys.exit(3)
    torch.set_num_threads(2)
    n, d, k = (32, 4096, 512) if args.smoke else (256, 65536, 8192)
    ln, ld = (8, 65536) if args.smoke else (32, 1 << 17)
    rec = Recorder()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, d, generator=g)
    xl = torch.randn(ln, ld, generator=g)
    for kind, ptype in (("rademacher", ProjectionType.rademacher), ("gaussian", ProjectionType.normal)):
        p = BasicProjector(grad_dim=d, proj_dim=k, seed=0, proj_type=ptype, device="cpu")
        t = best_time(lambda: p.project(x, model_id=0), repeats=1, warmup=0)
        rec.add(f"peer.trak.projection.{kind}", 2.0 * n * d * k / t / 1e9, "GFLOP/s",
                f"BasicProjector on CPU, torch {torch.__version__}, {torch.get_num_threads()} threads")
        t = best_time(lambda: p.project(x[:16], model_id=0), repeats=1, warmup=0)
        rec.add(f"peer.trak.projection.{kind}.batch16", 16 / t, "samples/s",
                f"one call with a batch of 16 (LESS's), D={d}, K={k}")
        del p
        p = BasicProjector(grad_dim=ld, proj_dim=k, seed=0, proj_type=ptype, device="cpu")
        t = best_time(lambda: p.project(xl, model_id=0), repeats=1, warmup=0)
        rec.add(f"peer.trak.projection.{kind}.lora", 2.0 * ln * ld * k / t / 1e9, "GFLOP/s",
                f"N={ln}, K={k}, timed on a D={ld} slice (cost linear in D)")
        del p
    rec.write(args.output)


if __name__ == "__main__":
    main()
