"""Timing of model steps for the benchmarks: warm up (compile, caches), then time single steps."""


def time_steps(benchmark, model, rounds: int) -> float:
    """Median seconds of one ``model.step`` at its stable time step, device work included."""
    dt = model.stable_dt()
    sync = model.grid.backend.synchronize

    def step():
        model.step(dt)
        sync()

    step()  # compile / warm caches
    benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=1)
    return benchmark.stats.stats.median
