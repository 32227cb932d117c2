import pytest

from reflex_logto.sessions.sealing import Sealer, SealError


def test_round_trip_and_record_binding():
    sealer = Sealer("s" * 32)
    blob = sealer.seal({"refresh_token": "rt-1"}, record="row-1")
    assert b"rt-1" not in blob
    assert sealer.open(blob, record="row-1") == {"refresh_token": "rt-1"}
    with pytest.raises(SealError):
        sealer.open(blob, record="row-2")


def test_another_secret_does_not_open():
    blob = Sealer("a" * 32).seal([1, 2], record="r")
    with pytest.raises(SealError):
        Sealer("b" * 32).open(blob, record="r")


def test_tampered_blob_does_not_open():
    sealer = Sealer("s" * 32)
    blob = bytearray(sealer.seal("x", record="r"))
    blob[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(bytes(blob), record="r")


def test_rotation_opens_old_blobs_and_seals_new_ones_with_the_current_secret():
    old = Sealer("old" * 11).seal({"t": 1}, record="r")
    rotated = Sealer("new" * 11, previous=("old" * 11,))
    assert rotated.open(old, record="r") == {"t": 1}
    fresh = rotated.seal({"t": 2}, record="r")
    assert Sealer("new" * 11).open(fresh, record="r") == {"t": 2}
    with pytest.raises(SealError):
        Sealer("old" * 11).open(fresh, record="r")
