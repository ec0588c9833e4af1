"""The ``plumetwin assimilate`` task: twin, records and locate modes end to end through the CLI."""

import h5py
import numpy as np

from engine.app.cli import main


def test_assimilate_twin_writes_analysis_emissions_and_innovations(tmp_path, capsys):
    out = tmp_path / "twin"
    status = main(["assimilate", f"output.dir={out}", "assimilation.members=8", "assimilation.twin_duration_s=720",
                   "assimilation.filter=enkf"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "RMSE at withheld sensors" in printed
    with h5py.File(out / "assimilate.h5") as f:
        times = f["analysis/time"][:]
        assert times.size == 6 and np.all(np.diff(times) == 120.0)
        mean = f["analysis/SO2/mean"][:]
        assert mean.shape[0] == times.size and np.all(mean >= 0)
        assert f["emissions/factor"].shape == (6, 8, 1)
        assert np.all(f["innovations/count"][:] > 0)
        assert f["twin"].attrs["rmse_assimilated"] < f["twin"].attrs["rmse_free"]


def test_assimilate_records_from_a_run_file(tmp_path, capsys):
    truth = tmp_path / "truth"
    assert main(["run", "grid=tiny", "sources=tiny", "receptors=tiny", "time.stop=600", "backend=numpy",
                 "met.wind_model=profile", f"output.dir={truth}", "name=truth"]) == 0
    out = tmp_path / "records"
    status = main(["assimilate", "assimilation.mode=records", f"assimilation.records={truth / 'truth.h5'}",
                   "assimilation.members=6", "time.stop=600", "met.wind_model=profile", f"output.dir={out}"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    with h5py.File(out / "assimilate.h5") as f:
        assert f["sensors/station_id"].shape == (2,)
        assert f["analysis/NO2/mean"].shape[1:] == (8, 30, 40)
        assert f["emissions/rate/test_stack/SO2"].shape[1] == 6
        innovations = f["innovations/rms_innovation"][:]
        residuals = f["innovations/rms_residual"][:]
        assert np.all(residuals <= innovations)  # each analysis moves the ensemble towards the records
    assert (out / "assimilate_qc.txt").is_file()


def test_assimilate_records_needs_a_file(capsys):
    assert main(["assimilate", "assimilation.mode=records"]) == 2
    assert "assimilation.records" in capsys.readouterr().err


def test_assimilate_locate_draws_the_credible_region(tmp_path, capsys):
    out = tmp_path / "locate"
    assert main(["assimilate", "assimilation.mode=locate", f"output.dir={out}"]) == 0
    assert "leak found" in capsys.readouterr().out
    assert (out / "assimilate_credible_region.png").stat().st_size > 5000
    with h5py.File(out / "assimilate.h5") as f:
        assert np.isclose(f["source_estimate/posterior"][:].sum(), 1.0)
        assert f["source_estimate/credible_region_90"][:].any()


def test_records_feed_averages_good_rows_over_the_cycle_window():
    from engine.app.assimilate_records import RecordsFeed
    from engine.observations import SensorRecords

    start = np.datetime64("2024-05-01T00:00:00", "s")
    seconds = np.array([0, 300, 600, 600, 900, 1200])
    records = SensorRecords(
        time=start + seconds.astype("timedelta64[s]"),
        station_id=np.array(["a", "a", "a", "b", "b", "a"]),
        species=np.array(["SO2", "SO2", "SO2", "SO2", "NO2", "SO2"]),
        value=np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0]) * 1e-9,
        qc=np.array([0, 0, 0, 0, 0, 4], dtype=np.uint16),  # the last row is flagged
    )
    feed = RecordsFeed(records, ["a", "b"], ["SO2", "NO2"], start, window_s=600.0, relative_error=0.1,
                       error_floor=1e-10)
    values, errors = feed.at(600.0)  # window (0, 600] s
    np.testing.assert_allclose(values[0], [3e-9, 8e-9])  # mean of 2 and 4 at a; 8 at b
    assert np.isnan(values[1]).all()
    np.testing.assert_allclose(errors[0], np.sqrt((0.1 * values[0]) ** 2 + 1e-20))
    values, _ = feed.at(1200.0)  # (600, 1200]: only NO2 at b; the flagged SO2 row is left out
    assert np.isnan(values[0]).all() and values[1, 1] == 16e-9
    assert feed.at(3000.0) is None


def test_assimilate_locate_from_recorded_series(tmp_path, capsys):
    """A hidden ground-level leak (4 g/s, peaks below the ingest's SO2 range limit) on the tiny
    grid, read by 12 stations every 60 s, written as long CSV records with a station table; the
    task finds it from those files alone."""
    from hydra import compose, initialize_config_dir

    from engine import DispersionModel, PointSampler, PointSource
    from engine.app.build import build_model
    from engine.app.cli import conf_dir
    from engine.app.validate import plain_config, to_run_config
    from engine.observations import SensorRecords, StationTable, write_long_csv, write_station_csv
    from engine.schedules import TimeInterval
    from engine.simulation import Simulation

    overrides = ["met=constant", "time.stop=1200"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        plain = plain_config(compose("assimilate", overrides=overrides))
    plain.pop("assimilation")
    reference, _ = build_model(to_run_config(plain))
    grid = reference.grid
    leak = (380230.0, 180330.0)
    truth = DispersionModel(grid, reference.wind, reference.diffusivity, reference.species,
                            [PointSource("leak", {"SO2": 0.004}, start=150.0, x=leak[0], y=leak[1], height=1.0)])
    xs, ys = 380000.0 + np.array([300.0, 500.0, 700.0, 900.0]), 180000.0 + np.array([150.0, 375.0, 600.0])
    stations = StationTable(station_id=np.array([f"s{n}" for n in range(12)]), x=np.repeat(xs, 3),
                            y=np.tile(ys, 4), z_agl=np.full(12, 3.0), crs=grid.crs)
    sampler = PointSampler(grid, [tuple(p) for p in stations.positions])
    series = []

    class Record:
        schedule = TimeInterval(60.0)

        def __call__(self, sim):
            series.append((sim.model.time, sampler.sample(sim.model.state)[0, 0].copy()))

    Simulation(truth, stop_time=1200.0, writers={"sensors": Record()}).run()
    rng = np.random.default_rng(0)
    start = np.datetime64("2024-05-01T00:00:00", "s")
    rows = [(t, n, v * (1 + 0.05 * rng.standard_normal())) for t, values in series if t > 0
            for n, v in enumerate(values)]
    records = SensorRecords(time=np.array([start + np.timedelta64(int(t), "s") for t, _, _ in rows]),
                            station_id=np.array([f"s{n}" for _, n, _ in rows]),
                            species=np.array(["SO2"] * len(rows)), value=np.array([max(v, 0.0) for *_, v in rows]),
                            qc=np.zeros(len(rows), dtype=np.uint16), stations=stations)
    write_long_csv(records, tmp_path / "records.csv")
    write_station_csv(stations, tmp_path / "stations.csv")
    out = tmp_path / "located"
    status = main(["assimilate", "assimilation.mode=locate", f"assimilation.records={tmp_path / 'records.csv'}",
                   f"assimilation.stations={tmp_path / 'stations.csv'}", "assimilation.start=2024-05-01T00:00:00Z",
                   *overrides, f"output.dir={out}"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    print(printed.out)
    with h5py.File(out / "assimilate.h5") as f:
        found = f["source_estimate"].attrs["position"]
        rate = f["source_estimate"].attrs["rate_mean"]
        region = f["source_estimate/credible_region_90"][:]
        cell_xy = f["source_estimate/cell_xy"][:]
    cells_off = max(abs(found[0] - leak[0]), abs(found[1] - leak[1])) / grid.dx
    inside = region[np.argmin(np.hypot(cell_xy[:, 0] - leak[0], cell_xy[:, 1] - leak[1]))]
    print(f"found {found}, {cells_off:.1f} cells from the leak, rate {rate:.3g} kg/s (true 0.004)")
    assert cells_off <= 2.5 or inside  # within 2 cells of the cell centre that holds the leak
    assert 0.002 < rate < 0.008  # a factor of two: the linear model's error at a single trial
    assert (out / "assimilate_credible_region.png").is_file()
