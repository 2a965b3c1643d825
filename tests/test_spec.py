import json

import pytest

from tinykws.errors import UserError
from tinykws.spec import FeatureSpec


def test_default_shape_is_49_by_10():
    s = FeatureSpec()
    assert s.input_shape == (49, 10)
    assert (s.win_length, s.hop_length, s.n_fft) == (480, 320, 512)


def test_round_trip_through_json(tmp_path):
    s = FeatureSpec(n_mfcc=13, fmax=7600.0)
    s.save(tmp_path / "spec.json")
    back = FeatureSpec.load(tmp_path / "spec.json")
    assert back == s
    assert back.sha256 == s.sha256


def test_hash_is_sha256_of_sorted_canonical_json():
    import hashlib

    s = FeatureSpec()
    canon = json.dumps(s.to_dict(), sort_keys=True, separators=(",", ":"))
    assert s.sha256 == hashlib.sha256(canon.encode()).hexdigest()
    assert FeatureSpec(n_mels=32).sha256 != s.sha256


def test_every_parameter_is_explicit():
    d = FeatureSpec().to_dict()
    for key in ("window", "n_fft", "fmin", "fmax", "mel_htk", "mel_norm", "power", "log_floor", "dct_type", "dct_norm"):
        assert key in d


@pytest.mark.parametrize("bad", [dict(n_fft=500), dict(fmax=9000.0), dict(n_mfcc=50), dict(window_ms=40), dict(hop_ms=0)])
def test_invalid_specs_are_refused(bad):
    with pytest.raises(UserError):
        FeatureSpec(**bad)


def test_unknown_field_and_bad_json(tmp_path):
    (tmp_path / "a.json").write_text('{"sample_rate": 16000, "colour": 3}')
    with pytest.raises(UserError, match="colour"):
        FeatureSpec.load(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{nope")
    with pytest.raises(UserError, match="not valid JSON"):
        FeatureSpec.load(tmp_path / "b.json")


#: sha256 of the default spec's canonical JSON, as the firmware and every existing run know it.
DEFAULT_SPEC_SHA256 = "53d4e72e7dc8f49d2e3a04d46b969fc2bd2ef963a534e2839e20d4c579642ce4"


def test_default_hash_is_unchanged():
    assert FeatureSpec().sha256 == DEFAULT_SPEC_SHA256


def test_equal_specs_hash_equally_however_the_numbers_are_spelled(tmp_path):
    import numpy as np

    assert FeatureSpec(fmin=20).sha256 == FeatureSpec(fmin=20.0).sha256 == DEFAULT_SPEC_SHA256
    spelled = FeatureSpec(sample_rate=16000.0, fmax=4000, power=2, n_mfcc=np.int64(10), mel_htk=0, log_floor=1e-10)
    assert spelled == FeatureSpec() and spelled.sha256 == DEFAULT_SPEC_SHA256
    assert type(spelled.sample_rate) is int and type(spelled.fmax) is float and spelled.mel_htk is False
    # The same through a spec.json written by hand.
    (tmp_path / "spec.json").write_text(json.dumps({"fmin": 20, "fmax": 4000, "sample_rate": 16000.0}))
    assert FeatureSpec.load(tmp_path / "spec.json").sha256 == DEFAULT_SPEC_SHA256


@pytest.mark.parametrize("field,value", [("sample_rate", "16000"), ("sample_rate", 16000.5), ("n_mfcc", True),
                                         ("mel_htk", 2), ("window", 3), ("fmin", float("nan"))])
def test_values_that_are_not_the_declared_type_are_refused(field, value):
    with pytest.raises(UserError, match=f"invalid feature spec: {field} must be"):
        FeatureSpec(**{field: value})
