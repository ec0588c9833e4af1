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
