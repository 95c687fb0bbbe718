import pytest
import torch

import cnnbook.data as data
from cnnbook import datacache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    return tmp_path


def fresh(monkeypatch, make, *args, **kwargs):
    monkeypatch.setenv("CNNBOOK_CACHE", "off")
    return make(*args, **kwargs)


def equal_shapes(a, b):
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("images", "labels", "coverage"))


def test_the_second_draw_is_read_from_disk_and_equals_a_fresh_one(cache, monkeypatch):
    first = data.make_shapes10(200, seed=5)
    assert len(list(cache.glob("shapes10-*.pt"))) == 1

    def no_drawing(*args):
        raise AssertionError("drew again instead of reading the cache")

    monkeypatch.setattr(data, "_draw_shapes10", no_drawing)
    second = data.make_shapes10(200, seed=5)
    monkeypatch.undo()
    assert equal_shapes(first, second) and second.labels.dtype == torch.int64
    assert equal_shapes(second, fresh(monkeypatch, data.make_shapes10, 200, seed=5))


def test_scenes_keep_their_dtypes_boxes_and_classes(cache, monkeypatch):
    args = dict(n=200, image_size=32, max_objects=2, classes=("circle", "square"), seed=3)
    data.make_scenes(**args)
    cached = data.make_scenes(**args)
    drawn = fresh(monkeypatch, data.make_scenes, **args)
    assert cached.classes == drawn.classes == ("circle", "square")
    for field in ("images", "semantic", "instances"):
        assert getattr(cached, field).dtype == getattr(drawn, field).dtype
        assert torch.equal(getattr(cached, field), getattr(drawn, field))
    assert all(torch.equal(a, b) for a, b in zip(cached.boxes + cached.box_labels, drawn.boxes + drawn.box_labels))


def test_every_argument_and_the_generator_code_are_in_the_key(monkeypatch, cache):
    base = dict(n=300, image_size=32, seed=0)
    paths = {datacache.cache_path("shapes10", dict(base, **change)) for change in
             ({}, {"n": 301}, {"image_size": 64}, {"seed": 1})}
    assert len(paths) == 4
    monkeypatch.setattr(datacache, "_code_digest", lambda: "another generator")
    assert datacache.cache_path("shapes10", base) not in paths
    monkeypatch.undo()
    # a module setting the scenes depend on is part of their key
    kept = data.make_scenes(200, 32, seed=7)
    monkeypatch.setattr(data, "SCENE_MIN_VISIBLE", 0.97)
    strict = data.make_scenes(200, 32, seed=7)
    assert sum(map(len, strict.boxes)) < sum(map(len, kept.boxes))


def test_a_damaged_file_is_drawn_again_and_rewritten(cache):
    first = data.make_shapes10(200, seed=2)
    (path,) = cache.glob("shapes10-*.pt")
    path.write_bytes(path.read_bytes()[:1000])
    assert equal_shapes(data.make_shapes10(200, seed=2), first)
    assert equal_shapes(data.make_shapes10(200, seed=2), first)  # read from the rewritten file
    assert path.stat().st_size > 1000 and not list(cache.glob("*.partial"))


def test_an_unwritable_cache_leaves_the_data_uncached(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CNNBOOK_CACHE", str(blocker / "cache"))
    assert len(data.make_shapes10(200, seed=1)) == 200


def test_off_small_sets_and_the_default_folder(cache, monkeypatch):
    data.make_shapes10(data.CACHED_FROM - 1, seed=1)
    assert not list(cache.iterdir())
    for value in ("off", "0", ""):
        monkeypatch.setenv("CNNBOOK_CACHE", value)
        assert datacache.cache_dir() is None and datacache.cache_path("shapes10", {}) is None
    monkeypatch.delenv("CNNBOOK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert str(datacache.cache_dir()) == "/somewhere/cnnbook"


def test_bypass_draws_afresh_and_writes_nothing(cache, monkeypatch):
    drawn = []
    original = data._draw_shapes10
    monkeypatch.setattr(data, "_draw_shapes10", lambda *a: drawn.append(a) or original(*a))
    data.make_shapes10(200, seed=4)  # cached now
    with datacache.bypass():
        data.make_shapes10(200, seed=4)
        data.make_shapes10(200, seed=6)
    assert len(drawn) == 3 and len(list(cache.glob("*.pt"))) == 1
    data.make_shapes10(200, seed=4)
    assert len(drawn) == 3  # outside the block the cache serves again
