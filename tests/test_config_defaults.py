"""Config defaults live in one place (the dataclasses in config.py, from which its schema is derived);
defaults/config.toml, which `annex2 init` writes for the clerk, must state the same values."""
import tomllib
from importlib import resources

from pipeline.core import config

# Keys whose value in defaults/config.toml is the bureau's own entry, not a default: the bureau's names are
# required, the contact is the seed's, and [tasks.names] is the seed's list.
SAMPLE_ENTRIES = {("bureau", "name"), ("bureau", "short_name"), ("tasks", "names"), ("tasks", "untracked")} | {
    ("contact", key) for key in ("department", "person", "phone", "email")}


def shipped():
    text = resources.files("pipeline.core").joinpath("defaults/config.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_the_shipped_file_states_every_default_the_code_uses():
    data = shipped()
    differ, unstated = [], []
    for section, keys in config._SCHEMA.items():
        if section in ("smtp", "mail"):  # optional: shipped commented out (nothing is sent or fetched without it)
            assert section not in data
            continue
        for key, (_types, default) in keys.items():
            if (section, key) in SAMPLE_ENTRIES or default is ...:
                continue
            if key not in data.get(section, {}):
                if default is not None:  # None means "not set" ([tasks] year), shown as a comment
                    unstated.append(f"{section}.{key}")
            elif data[section][key] != default:
                differ.append(f"{section}.{key}: file {data[section][key]!r}, code {default!r}")
    assert differ == [] and unstated == []


def test_the_shipped_file_has_no_key_the_code_does_not_know():
    data = shipped()
    unknown = [f"{section}.{key}" for section, table in data.items() if section != "units"
               for key in table if key not in config._SCHEMA[section]]
    assert unknown == []


def test_defaults_come_from_the_dataclasses():
    # a few worked by hand from the spec: day 23 deadline, 2 strikes, a 20 MB file cap, a 2-second window
    assert config._SCHEMA["deadline"]["day"] == ((int,), 23)
    assert config._SCHEMA["escalation"]["strikes"] == ((int,), 2)
    assert config._SCHEMA["limits"]["max_file_mb"] == ((int, float), 20)
    assert config._SCHEMA["watch"]["stable_seconds"] == ((int, float), 2.0)
    assert config._SCHEMA["bureau"]["timezone"] == ((str,), "Asia/Shanghai")
    assert config._SCHEMA["smtp"]["host"][1] is ...
    cfg = config.defaults()
    assert (cfg.deadline.day, cfg.escalation.strikes, cfg.limits.max_file_mb, cfg.watch.stable_seconds) == (23, 2, 20, 2.0)
