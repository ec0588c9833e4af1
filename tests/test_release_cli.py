"""``plumetwin release``: presets compose, errors are clear, a tiny run writes its files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from scenarios.chemicals import get_chemical
from scenarios.release_sources import release_term
from test_cli import plumetwin, printed_path

CONF = Path(__file__).resolve().parents[1] / "conf"
TINY = ["grid=tiny", "receptors=tiny", "backend=numpy", "time.stop=300", "release.x=380250", "release.y=180350"]


def compose_release(*overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="release", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def term_of(cfg: dict):
    rel = cfg["release"]
    return release_term(rel["kind"], rel["inventory"], rel["rate"], rel["duration"], rel["orifice"], rel["pool"],
                        get_chemical(rel["chemical"]), cfg["met"]["speed"])


def test_worst_case_is_f_at_1_5_m_s_with_the_inventory_over_ten_minutes():
    cfg = compose_release("release_case=worst_case", "release.inventory=2500")
    assert (cfg["met"]["speed"], cfg["met"]["stability"], cfg["met"]["temperature"]) == (1.5, "F", 298.15)
    term = term_of(cfg)
    assert term.kind == "continuous" and term.duration == 600.0
    assert term.rate == 2500.0 / 600.0


def test_alternative_case_is_d_at_3_m_s_and_keeps_the_configured_release():
    default, alternative = compose_release(), compose_release("release_case=alternative_case")
    assert (alternative["met"]["speed"], alternative["met"]["stability"]) == (3.0, "D")
    assert alternative["release"] == default["release"]
    assert term_of(default).regime == "choked"  # the default 10 mm hole in a Cl2 container


def test_bad_chemical_exits_2_listing_the_known_ones(tmp_path):
    done = plumetwin("release", *TINY, "release.chemical=Chlorine", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2
    assert "release.chemical: 'Chlorine' is not in chemicals.yaml; known chemicals: Cl2, HCl, HF, HNO3, NH3" in done.stderr
    assert "Traceback" not in done.stderr


def test_tiny_release_writes_zones_receptors_probability_and_map(tmp_path):
    run_dir = tmp_path / "run"
    done = plumetwin("release", *TINY, "release.kind=continuous", "release.rate=0.5", "release.duration=300",
                     "release.ensemble.members=3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    h5, png = printed_path(done.stdout, "results"), printed_path(done.stdout, "map")
    assert h5 == run_dir / "release_release.h5" and png == run_dir / "release_release.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "AEGL-2" in done.stdout and "NOT modelled" in done.stdout
    with h5py.File(h5) as f:
        assert f.attrs["chemical"] == "Cl2" and f.attrs["release_rate_kg_s"] == 0.5
        assert f["zones"].attrs["governing_duration_s"] == 600.0
        for level in ("AEGL-1", "AEGL-2", "AEGL-3"):
            assert set(f[f"zones/{level}"]) == {"600", "1800", "3600", "14400", "28800"}
        assert f["zones/ERPG-2/3600"].attrs["threshold_ppm"] == 3.0
        assert f["ground/peak_ppm"].shape == (30, 40)
        inner = f["zones/AEGL-1/600"][()].astype(bool)
        assert np.all(f["ground/max_mean_ppm_600"][()][inner] >= f["zones/AEGL-1/600"].attrs["threshold_ppm"])
        assert f["receptors/mean_ppm"].shape == (2, 5)  # 300 s in 60 s steps
        probability = f["ensemble/probability_AEGL-2"][()]
        assert probability.max() == 1.0  # 3 members: probabilities are thirds
        assert np.allclose(3 * probability, np.round(3 * probability), atol=1e-6)
