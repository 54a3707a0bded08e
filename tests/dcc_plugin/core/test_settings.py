import json

import pytest

from motionbridge.dcc_plugin.core import settings as st


@pytest.fixture
def cfg_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(st.CONFIG_ENV, str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def test_round_trip_in_user_config_dir(cfg_dir):
    s = st.Settings().updated(endpoint="tcp://10.0.0.5:7000", cfg=3.5, variations=3, foot_lock=False, prompter_url="http://10.0.0.5:8000/v1")
    path = st.save(s)
    assert path == cfg_dir / "plugin.json"
    loaded, warnings = st.load()
    assert loaded == s and warnings == []
    assert loaded.seeds == (0, 1, 2)
    assert not list(cfg_dir.glob("*.part"))


def test_damaged_or_partly_bad_file_falls_back_with_warnings(cfg_dir):
    cfg_dir.mkdir()
    (cfg_dir / "plugin.json").write_text("{not json")
    s, w = st.load()
    assert s == st.Settings() and "unreadable" in w[0]
    (cfg_dir / "plugin.json").write_text(json.dumps({"cfg": 99, "endpoint": "tcp://h:1", "colour": "red"}))
    s, w = st.load()
    assert s.endpoint == "tcp://h:1" and s.cfg == st.Settings().cfg
    assert any("cfg" in x for x in w) and any("colour" in x for x in w)


@pytest.mark.parametrize("change, why", [
    ({"endpoint": "localhost:7719"}, "tcp://"),
    ({"cfg": 0.2}, "cfg must be"),
    ({"duration_s": -1}, "positive"),
    ({"variations": 0}, "variations"),
    ({"server_key_path": "/nope/server.key"}, "does not exist"),
    ({"model": "gpt"}, "unknown model"),
    ({"prompter_url": "localhost:8000/v1"}, "prompter address"),
    ({"speed": 2}, "unknown setting"),
])
def test_bad_values_raise_and_leave_the_file_alone(cfg_dir, change, why):
    st.save(st.Settings())
    before = (cfg_dir / "plugin.json").read_bytes()
    with pytest.raises(ValueError, match=why):
        st.save(st.Settings().updated(**change))
    assert (cfg_dir / "plugin.json").read_bytes() == before
