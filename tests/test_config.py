"""Settings: conformance.toml, then the environment, then flags; and one clear line for each bad
setting, naming the key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance import config
from conformance.errors import ConfigError, ExitCode, UsageError
from conformance.suite.scenarios import MAX_WAIT_S, NAMES, PROBES

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "conformance.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_file_is_valid_and_says_what_the_defaults_are() -> None:
    settings = config.load(
        ROOT / "conformance.example.toml", {}, known_scenarios=NAMES, known_probes=PROBES
    )
    assert settings.profile == "gate"
    assert settings.request_timeout_s == 30
    assert settings.tls_verify
    assert not settings.read_only
    assert not settings.require_exercised
    assert set(settings.targets) == {"gloria", "tchat"}
    assert settings.scenarios == dict.fromkeys([*NAMES, *PROBES], True)
    assert settings.max_wait_s == MAX_WAIT_S


def test_the_environment_overrides_the_file_and_flags_override_both(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [run]
        profile = "deep"
        seed = 5
        request_timeout_s = 12
        [targets.tchat]
        url = "http://127.0.0.1:1/api"
        """,
    )
    environ = {"CONFORMANCE_SEED": "6", "CONFORMANCE_TARGET_TCHAT": "http://127.0.0.1:2/api/"}
    settings = config.load(path, environ, profile="smoke")
    assert settings.profile == "smoke"  # flag
    assert settings.seed == 6  # environment
    assert settings.request_timeout_s == 12  # file
    assert settings.targets["tchat"].url == "http://127.0.0.1:2/api"


def test_conformance_toml_is_found_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '[run]\nprofile = "smoke"\n')
    monkeypatch.chdir(tmp_path)
    assert config.load(None, {}).profile == "smoke"
    assert config.load(None, {}, discover=False).profile == "gate"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[run]\nprofle = "gate"\n', "unknown key 'profle'; did you mean 'profile'?"),
        ('[run]\nprofile = "huge"\n', "[run] profile = 'huge': use one of smoke, gate, deep"),
        ("[run]\nseed = -1\n", "seed = -1: use a whole number from 0 to 4294967295"),
        ('[run]\nrequest_timeout_s = "soon"\n', "use a number of seconds, e.g. 30"),
        ('[run]\nca_bundle = "no/such.pem"\n', "ca_bundle = 'no/such.pem': no such file"),
        ('[run]\nproxy = "proxy:3128"\n', "must start with http:// or https://"),
        ('[targets.gloria]\nurl = "http://x"\npassword = "hunter2"\n', "looks like a credential"),
        ("[run\n", "not valid TOML"),
        ("[scenario]\n", "unknown key 'scenario'; did you mean 'scenarios'?"),
        ('[run]\ntls_verify = false\nca_bundle = "conformance.toml"\n', "drop one"),
        ("[scenarios]\nmax_wait_s = 0\n", "max_wait_s = 0: use a number of seconds above 0"),
        ("[scenarios]\nlatncy = false\n", "unknown key 'latncy'; did you mean 'latency'?"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_key_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        config.load(path, {}, known_scenarios=NAMES)
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert raised.value.exit_code == ExitCode.BAD_INPUT


def test_a_target_table_without_a_url_takes_the_flags_url(tmp_path: Path) -> None:
    """A new user's file described the API's login and the command line gave its URL: the
    file was refused (exit 3), so it had to repeat the URL (issue 25, on VAmPI)."""
    spec = write(tmp_path, "openapi: 3.1.0\n", "vampi.yaml")
    path = write(tmp_path, '[targets.vampi]\nspec = "vampi.yaml"\ntoken_prefix = "Token"\n')
    settings = config.load(path, {})
    assert settings.targets["vampi"].url is None

    def resolved(urls: dict[str, str]) -> dict[str, config.ResolvedTarget]:
        return config.resolve_targets(
            settings, urls, {}, bundled={}, flag="--target", spec_hint="give --spec"
        )

    assert resolved({"vampi": "http://127.0.0.1:5000/"}) == {
        "vampi": config.ResolvedTarget("http://127.0.0.1:5000", spec, None)
    }
    with pytest.raises(ConfigError) as raised:
        resolved({})
    assert "[targets.vampi]: url is missing" in str(raised.value)
    assert "--target vampi=URL" in str(raised.value)
    assert raised.value.exit_code == ExitCode.BAD_INPUT


def test_a_bad_environment_value_names_its_variable() -> None:
    with pytest.raises(ConfigError, match=r"CONFORMANCE_READ_ONLY.*use true or false"):
        config.load(None, {"CONFORMANCE_READ_ONLY": "maybe"}, discover=False)


def test_credentials_come_from_the_file_and_the_environment_wins(tmp_path: Path) -> None:
    secrets = write(
        tmp_path,
        '[gloria]\nusername = "ci@example.com"\npassword = "from-file"\n',
        "credentials.toml",
    )
    path = write(tmp_path, f'[run]\ncredentials = "{secrets.name}"\n')
    settings = config.load(path, {})
    found = config.credentials("gloria", settings, {"CONFORMANCE_GLORIA_PASSWORD": "from-env"})
    assert (found.username, found.password, found.token) == ("ci@example.com", "from-env", None)
    assert "from-env" not in repr(found)
    assert config.credentials("tchat", settings, {}) == config.Secrets()


def test_a_broken_credentials_file_does_not_quote_its_lines(tmp_path: Path) -> None:
    secrets = write(tmp_path, '[gloria]\npassword = "s3cret\n', "credentials.toml")
    settings = config.load(write(tmp_path, f'[run]\ncredentials = "{secrets.name}"\n'), {})
    with pytest.raises(ConfigError) as raised:
        config.credentials("gloria", settings, {})
    assert "not valid TOML (line" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_the_scenarios_longest_wait_is_read_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[scenarios]\nmax_wait_s = 12.5\nlatency = false\n")
    settings = config.load(path, {}, known_scenarios=NAMES)
    assert settings.max_wait_s == 12.5
    assert settings.scenarios["latency"] is False
    assert settings.scenarios["auth_refresh"] is True
    # without it the suite's default applies (`scenarios.MAX_WAIT_S`, its one definition)
    assert config.load(None, {}, discover=False).max_wait_s is None


def test_the_scenario_switches_are_the_ones_the_caller_knows(tmp_path: Path) -> None:
    # the config layer imports no suite: the runner and the plugin hand it the registry's names
    path = write(tmp_path, "[scenarios]\nrollback = false\n")
    assert config.load(path, {}, known_scenarios=("rollback", "latency")).scenarios == {
        "rollback": False,
        "latency": True,
    }
    with pytest.raises(ConfigError, match="unknown key 'rollback'; known: max_wait_s"):
        config.load(path, {}, known_scenarios=())


def test_the_probe_switches_are_a_table_of_their_own(tmp_path: Path) -> None:
    path = write(tmp_path, "[probes]\ninjection = false\n")
    settings = config.load(path, {}, known_scenarios=("latency",), known_probes=("injection",))
    assert settings.scenarios == {"latency": True, "injection": False}
    # a probe's name is not a scenario's switch, nor the other way round
    with pytest.raises(ConfigError, match=r"\[probes\]: unknown key 'injection'"):
        config.load(path, {}, known_scenarios=("injection",))
    wrong = write(tmp_path, "[scenarios]\ninjection = false\n")
    with pytest.raises(ConfigError, match=r"\[scenarios\]: unknown key 'injection'"):
        config.load(wrong, {}, known_probes=("injection",))


def test_require_exercised_comes_from_the_file_the_environment_or_a_flag(tmp_path: Path) -> None:
    path = write(tmp_path, "[run]\nrequire_exercised = true\n")
    assert config.load(path, {}).require_exercised
    assert not config.load(path, {"CONFORMANCE_REQUIRE_EXERCISED": "0"}).require_exercised
    environ = {"CONFORMANCE_REQUIRE_EXERCISED": "yes"}
    assert config.load(None, environ, discover=False).require_exercised
    assert config.load(None, {}, discover=False, require_exercised=True).require_exercised
    assert not config.load(None, {}, discover=False).require_exercised
    with pytest.raises(ConfigError, match=r"CONFORMANCE_REQUIRE_EXERCISED.*use true or false"):
        config.load(None, {"CONFORMANCE_REQUIRE_EXERCISED": "perhaps"}, discover=False)


def test_the_example_file_names_every_setting_with_its_variable_and_flag() -> None:
    # the one place besides the table that lists the settings: held to the table here
    lines = (ROOT / "conformance.example.toml").read_text(encoding="utf-8").splitlines()
    for option in config.RUN_OPTIONS:
        if not option.in_file:
            continue
        (line,) = [line for line in lines if re.match(rf"#? ?{option.key} = ", line)]
        assert f"env {option.variable}" in line, line
        assert option.flag is None or f"flag {option.flag}" in line, line


def test_each_setting_is_declared_once_on_its_field() -> None:
    keys = [option.key for option in config.RUN_OPTIONS]
    assert len(set(keys)) == len(keys)
    flags = [option.flag for option in config.RUN_OPTIONS if option.flag]
    variables = [option.variable for option in config.RUN_OPTIONS if option.variable]
    assert len(set(flags)) == len(flags)
    assert len(set(variables)) == len(variables)
    defaults = config.Settings()
    assert all(getattr(defaults, option.key) == option.default for option in config.RUN_OPTIONS)


BUNDLED = {"gloria": Path("gloria.yaml"), "tchat": Path("tchat.yaml")}


def resolve(settings: config.Settings, urls: dict[str, str], specs: dict[str, Path]) -> object:
    return config.resolve_targets(
        settings, urls, specs, bundled=BUNDLED, flag="--target", spec_hint="give {name}'s spec"
    )


def test_targets_are_the_config_s_then_the_flags_each_with_its_spec(tmp_path: Path) -> None:
    spec = write(tmp_path, "", "billing.yaml")
    path = write(
        tmp_path,
        f'[targets.billing]\nurl = "http://127.0.0.1:1"\nspec = "{spec.name}"\n'
        '[targets.tchat]\nurl = "http://127.0.0.1:2/api"\n',
    )
    settings = config.load(path, {})
    urls = {"billing": "http://127.0.0.1:3/", "gloria": "https://gloria.example/api"}
    assert resolve(settings, urls, {"tchat": tmp_path / "mine.yaml"}) == {
        # a flag's URL keeps the config's spec; a flag's spec wins; else the bundled one
        "billing": ("http://127.0.0.1:3", spec, None),
        "tchat": ("http://127.0.0.1:2/api", tmp_path / "mine.yaml", None),
        "gloria": ("https://gloria.example/api", BUNDLED["gloria"], None),
    }


def test_targets_overlay_is_the_flag_s_else_the_table_s(tmp_path: Path) -> None:
    overlay, other = write(tmp_path, "", "extras.yaml"), write(tmp_path, "", "other.yaml")
    path = write(
        tmp_path,
        f'[targets.tchat]\nurl = "http://127.0.0.1:2/api"\noverlay = "{overlay.name}"\n'
        '[targets.gloria]\nurl = "http://127.0.0.1:3/api"\n',
    )
    settings = config.load(path, {"CONFORMANCE_TARGET_TCHAT": "http://127.0.0.1:4/api"})
    assert settings.targets["tchat"].overlay == overlay  # the URL from the environment keeps it
    resolved = config.resolve_targets(
        settings, {}, {}, bundled=BUNDLED, flag="--target", spec_hint="",
        overlays={"gloria": other},
    )  # fmt: skip
    assert resolved["tchat"].overlays == (overlay,)
    assert tuple(resolved["tchat"]) == ("http://127.0.0.1:4/api", BUNDLED["tchat"], overlay)
    assert resolved["gloria"].overlay == other


def test_targets_overlay_must_be_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[targets.tchat]\nurl = "http://127.0.0.1:2"\noverlay = "no.yaml"\n')
    with pytest.raises(ConfigError, match=r"overlay"):
        config.load(path, {})


@pytest.mark.parametrize(
    ("table", "urls", "says"),
    [
        ("", {"nope": "http://127.0.0.1:9"}, "--target nope=…: no bundled spec is called 'nope';"
         " give nope's spec"),
        ('[targets.nope]\nurl = "http://127.0.0.1:9"\n', {}, "conformance.toml: target 'nope' has"
         ' no spec and no bundled spec is called \'nope\'; add spec = "FILE" to [targets.nope]'),
        ("", {"tchat": "ftp://x"}, "--target tchat=ftp://x: the URL must start with http://"),
    ],
    ids=["flag", "config", "scheme"],
)  # fmt: skip
def test_a_target_without_a_spec_or_a_url_is_one_line_naming_the_fix(
    tmp_path: Path, table: str, urls: dict[str, str], says: str
) -> None:
    settings = config.load(write(tmp_path, table), {})
    with pytest.raises(UsageError) as raised:
        resolve(settings, urls, {})
    assert says in str(raised.value)


def test_the_environment_and_the_operations_left_out_from_file_environment_and_flags(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        '[run]\nenvironment = "disposable"\nexclude = ["resetDb", "GET /createdb", "tag:admin"]\n',
    )
    settings = config.load(path, {})
    assert (settings.environment, settings.disposable) == ("disposable", True)
    assert settings.exclude == ("resetDb", "GET /createdb", "tag:admin")
    environ = {"CONFORMANCE_INCLUDE": "GET /createdb, /admin/reset"}
    assert config.load(path, environ).include == ("GET /createdb", "/admin/reset")
    assert config.load(path, {}, exclude=["/wipe"]).exclude == ("/wipe",)  # a flag replaces
    assert not config.load(None, {}, discover=False).disposable  # shared by default


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('environment = "ci"', r"\[run\] environment = 'ci': use one of shared, disposable"),
        ('exclude = [""]', r"\[run\] exclude = \[''\]: use a list of operations"),
        ("include = [1]", r"\[run\] include = \[1\]: use a list of operations"),
    ],
)
def test_a_bad_environment_or_selector_list_is_one_line(
    tmp_path: Path, text: str, said: str
) -> None:
    with pytest.raises(ConfigError, match=said):
        config.load(write(tmp_path, f"[run]\n{text}\n"), {})
