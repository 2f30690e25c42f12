"""The run-profile switch and seeding."""

from __future__ import annotations

import pytest

from fmnist_rnn.profiles import ENV_PROFILE, PROFILES, get_profile


def test_default_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_PROFILE, raising=False)
    profile = get_profile()
    assert profile.name == "full" and not profile.is_smoke
    assert profile.epochs(20) == 20
    assert profile.count(10_000) == 10_000
    assert profile.count(None, "test") is None


def test_smoke_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PROFILE, " Smoke ")
    profile = get_profile()
    assert profile.is_smoke
    assert profile.epochs(20) == 1
    assert profile.count(10_000, "train") == 1500
    assert profile.count(300, "train") == 300
    assert profile.count(None, "test") == 500
    assert 1000 <= profile.max_train <= 2000 and profile.max_test == 500


def test_unknown_profile_lists_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PROFILE, "fast")
    with pytest.raises(ValueError, match=r"unknown run profile 'fast'.*full, smoke"):
        get_profile()
    with pytest.raises(ValueError, match="valid profiles"):
        get_profile("tiny")


def test_bad_requests() -> None:
    profile = PROFILES["smoke"]
    with pytest.raises(ValueError, match="epochs"):
        profile.epochs(0)
    with pytest.raises(ValueError, match="unknown split"):
        profile.count(10, "validation")
    with pytest.raises(ValueError, match="at least 1"):
        profile.count(-5)
