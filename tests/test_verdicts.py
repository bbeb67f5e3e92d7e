"""Verdicts a user can act on: the model's training domain, conformal calibration, one output line per input."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from test_predict import failures, save_toy_model, write_png

from unmask.features.spectrum import get_variant
from unmask.learn.conformal import Conformal
from unmask.learn.domain import Facts, compare, training_domain
from unmask.learn.model_file import load_model, save_model


def unmask(*args):
    return subprocess.run([sys.executable, "-m", "unmask", *args], capture_output=True, text=True)


DEMO = training_domain([(128, 128)] * 3, ["PNG", "JPEG"], [75, 90], False, get_variant("faces_hq"))


@pytest.mark.parametrize(
    "facts,why,far",
    [
        (Facts(128, 128, "JPEG", 80), [], False),
        (
            Facts(1024, 1024, "JPEG", 80),
            ["1024x1024 px; trained on 128x128", "a native spectrum of 722 values; trained on 88"],
            True,
        ),
        (
            Facts(160, 160, "PNG"),
            ["160x160 px; trained on 128x128", "a native spectrum of 111 values; trained on 88"],
            True,
        ),
        (Facts(128, 128, "WEBP"), ["WEBP; trained on JPEG, PNG"], False),
        (Facts(128, 128, "JPEG", 50), ["JPEG quality ~50; trained on 75-90"], False),
        (Facts(128, 128, "PNG", None, face_crop=True), ["a face crop; trained on whole images"], False),
    ],
)
def test_an_input_is_compared_with_the_training_domain(facts, why, far):
    reasons, beyond = compare(DEMO, facts, get_variant("faces_hq"), 88)
    assert (list(reasons.values()), beyond) == (why, far)


def test_a_manifest_jpeg_rewritten_as_png_is_left_out_of_the_qualities(tmp_path):
    """A file the manifest listed as JPEG but now a PNG has no quality: left out, not None (min() then failed)."""
    import cv2

    from unmask.learn.domain import jpeg_qualities

    jpeg = tmp_path / "a.jpg"
    jpeg.write_bytes(cv2.imencode(".jpg", np.full((32, 32), 128, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])[1])
    assert jpeg_qualities([str(jpeg), str(write_png(tmp_path / "b.jpg"))]) == [80]


def test_a_resampled_model_refuses_another_size_class_only():
    """celeba spectra are resampled to 80 values: another native length is fine within a size class."""
    domain = training_domain([(128, 128), (100, 90)], ["PNG"], [], False, get_variant("celeba"))
    assert domain["native_length"] == [65, 88]
    assert compare(domain, Facts(200, 200, "PNG"), get_variant("celeba"), 80) == (
        {"size": "200x200 px; trained on 100-128 x 90-128"},
        False,
    )
    assert compare(domain, Facts(300, 300, "PNG"), get_variant("celeba"), 80)[1] is True


def test_predict_refuses_far_outside_the_domain_unless_allowed(tmp_path):
    model = save_toy_model(tmp_path / "model.json")  # 64x64 PNGs
    near, far = write_png(tmp_path / "near.png", side=96), write_png(tmp_path / "far.png", side=256)
    result = unmask("predict", "--model", str(model), str(near), str(far))
    assert result.returncode == 1
    near_answer = json.loads(result.stdout.splitlines()[0])
    assert (near_answer["in_domain"], near_answer["why"]) == (False, "96x96 px; trained on 64x64")
    assert failures(result.stdout) == {
        str(far): "far outside the model's domain (256x256 px; trained on 64x64); "
        "pass --allow-out-of-domain to score it anyway"
    }
    allowed = unmask("predict", "--model", str(model), "--allow-out-of-domain", str(far))
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["in_domain"] is False


def test_every_input_gets_a_json_line_and_a_missing_model_says_so(tmp_path):
    model = save_toy_model(tmp_path / "model.json")
    fine = write_png(tmp_path / "fine.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    result = unmask("predict", "--model", str(model), str(tmp_path / "broken.png"), str(fine))
    assert result.returncode == 1
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [
        str(tmp_path / "broken.png"),
        str(fine),
    ]
    assert failures(result.stdout) == {
        str(tmp_path / "broken.png"): "not a readable image (no JPEG or PNG decoder accepts its header)"
    }
    missing = unmask("predict", "--model", str(tmp_path / "nothing.json"), str(fine))
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith(f"{tmp_path}/nothing.json: no such model file (it does not exist)")


def test_a_score_that_is_not_finite_is_an_error_not_nan(tmp_path):
    """A model within its bounds whose arithmetic overflows printed {"p_fake": NaN}, which is not JSON, with exit 0."""
    from unmask.learn.model_file import Linear, Scaler

    toy = load_model(save_toy_model(tmp_path / "toy.json"))
    coef = np.where(np.arange(80) % 2, 1e12, -1e12)
    overflowing = dataclasses.replace(
        toy, parameters=Linear(coef, 0.0), scaler=Scaler(np.zeros(80), np.full(80, 1e-300))
    )
    save_model(tmp_path / "overflow.json", overflowing)
    result = unmask("predict", "--model", str(tmp_path / "overflow.json"), str(write_png(tmp_path / "fine.png")))
    assert result.returncode == 1
    assert (
        json.loads(result.stdout)["error"] == "the model's score is not finite (its parameters overflow on this input)"
    )


def test_conformal_p_values_by_hand():
    conformal = Conformal.fit([3.0, 1.0, 2.0, 2.0], fpr=0.2)
    np.testing.assert_allclose(conformal.p_values([0.5, 2.0, 2.5, 9.0]), [5 / 5, 4 / 5, 2 / 5, 1 / 5])
    np.testing.assert_array_equal(conformal.is_fake(conformal.p_values([0.5, 9.0])), [0, 1])
    with pytest.raises(
        ValueError, match="3 real images cannot support a false-positive rate of 0.1: it needs at least 9"
    ):
        Conformal.fit([1.0, 2.0, 3.0], fpr=0.1)


def test_the_false_positive_rate_holds_on_held_apart_real_images(tmp_path):
    """Calibrate on one half of the real images, count the other half called fake, over 200 seeds.

    Each seed's count of false positives among m held-out images is binomial given its calibration, whose own
    false-positive rate varies as Beta(l, n + 1 - l) (l = floor((n + 1) fpr)); over the seeds the total stays
    within 4 standard deviations of that mixture, around the target, and no seed passes its 99.99% bound.
    """
    model = load_model(save_toy_model(tmp_path / "model.json"))
    rng = np.random.default_rng(0)
    real = rng.normal(size=(1000, 80)) * rng.uniform(0.5, 2, 80) + 1  # any distribution: the promise is free of it
    decisions = model.decision(real)
    fpr, n, m, seeds = 0.05, 500, 500, 200
    counts = []
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(real))
        conformal = Conformal.fit(decisions[order[:n]], fpr)
        counts.append(int(conformal.is_fake(conformal.p_values(decisions[order[n:]])).sum()))
    counts = np.array(counts)
    level = np.floor((n + 1) * fpr) / (n + 1)  # the exact rate for continuous scores, at most fpr
    beta_var = level * (1 - level) / (n + 2)
    per_seed_var = m * level * (1 - level) + m * (m - 1) * beta_var
    assert abs(counts.sum() - seeds * m * level) <= 4 * np.sqrt(seeds * per_seed_var)
    assert counts.mean() / m <= fpr + 4 * np.sqrt(per_seed_var / seeds) / m
    worst = binom.ppf(0.9999, m, level + 4 * np.sqrt(beta_var))  # a calibration 4 sd unlucky, then a binomial
    assert counts.max() <= worst


def test_calibrate_then_predict_reports_the_p_value_and_the_promise(tmp_path):
    model = save_toy_model(tmp_path / "model.json")
    real = tmp_path / "mine"
    real.mkdir()
    for seed in range(24):
        write_png(real / f"photo_{seed:02d}.png", seed=seed)
    (real / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "mine.json"
    result = unmask("calibrate", "--model", str(model), "--real", str(real), "--fpr", "0.05", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"unmask calibrate: {real}/broken.png: not a readable image" in result.stderr
    calibrated = load_model(out)
    assert calibrated.conformal.n == 24 and calibrated.conformal.fpr == 0.05
    suspect = write_png(tmp_path / "suspect.png", seed=99)
    answer = json.loads(unmask("predict", "--model", str(out), str(suspect)).stdout)
    decision = calibrated.decision(np.atleast_2d(_features(calibrated, suspect)))[0]
    k = int((calibrated.conformal.scores >= decision).sum())
    assert answer["p_value"] == pytest.approx((1 + k) / 25)
    assert answer["label"] == ("fake" if answer["p_value"] <= 0.05 else "real")
    assert (answer["fpr"], answer["n_calibration"]) == (0.05, 24)
    too_few = unmask("calibrate", "--model", str(model), "--real", str(real), "--fpr", "0.01", "--out", str(out))
    assert too_few.returncode == 2
    assert "24 real images cannot support a false-positive rate of 0.01: it needs at least 99" in too_few.stderr


def _features(model, path):
    from unmask.data.images import read_gray
    from unmask.learn.predict import model_features

    return model_features(model, read_gray(path))


def test_spectrum_takes_folders_and_never_writes_rows_of_two_lengths(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    write_png(folder / "a.png", side=64)
    write_png(folder / "b.png", side=128)
    result = unmask("spectrum", str(folder))
    assert result.returncode == 1
    assert f"{folder}/b.png: its spectrum has 88 values, the first image's 43" in result.stderr
    table = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert list(table["file"]) == [str(folder / "a.png")] and table.shape[1] == 1 + 43
    resampled = unmask("spectrum", str(folder), "--length", "50")
    assert resampled.returncode == 0, resampled.stderr
    assert pd.read_csv(pd.io.common.StringIO(resampled.stdout)).shape == (2, 51)


def test_messages_go_above_the_progress_bar_not_through_it(tmp_path):
    """On a terminal, a message printed through the bar left a frozen bar before it on its line."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    model = save_toy_model(tmp_path / "model.json")
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(b"not an image")
    write_png(tmp_path / "d.png")
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    command = [sys.executable, "-m", "unmask", "predict", "--model", str(model), str(tmp_path)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    child.wait()
    os.close(controller)
    lines = [line for line in shown.decode().splitlines() if "unmask predict: " in line]
    assert len(lines) == 3 and "%|" in shown.decode(), shown  # three messages, and a bar was drawn
    assert all(line.split("\r")[-1].startswith("unmask predict: ") for line in lines), lines


def test_a_model_records_the_fft_engines_of_its_features():
    """Features differ in their last bits between the two engines (with and without the fftw extra)."""
    from unmask.features import fourier
    from unmask.learn.model_file import Provenance

    engine = Provenance.current("toy", n_train=1, seed=0).fft_engine
    assert engine == fourier.engines() and "pocketfft (scipy " in engine
    assert ("FFTW (pyFFTW " in engine) == (fourier._fftw() is not None)


def test_the_wheel_holds_the_config_schema(tmp_path):
    """Every command reads the schema's defaults: outside the repository, `unmask --help` raised FileNotFoundError."""
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(repo)]
    subprocess.run([*command, "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("unmask-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("unmask/config.schema.yaml")
    assert shipped == (repo / "workflow/schemas/config.schema.yaml").read_bytes()


def test_a_header_whose_format_facts_fail_is_still_scored(tmp_path, monkeypatch):
    """Format and quality are compared where they can be read; a lookup that fails leaves them unknown."""
    from pathlib import Path

    from unmask.learn.predict import predict_image

    def odd_header(path):
        raise KeyError(0)  # e.g. a quantisation table Pillow does not list

    monkeypatch.setattr("unmask.learn.predict.format_facts", odd_header)
    model = load_model(save_toy_model(tmp_path / "model.json"))
    answer = predict_image(model, Path(write_png(tmp_path / "fine.png")))
    assert answer["in_domain"] is True and 0 <= answer["p_fake"] <= 1
