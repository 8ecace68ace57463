"""Alertmanager receivers and routes as role data: every documented kind rendered, credentials only as
*_file paths into the listed Secrets, and what Alertmanager would refuse refused before anything is sent,
with a message naming the receiver, the field and the fix (never the credential)."""

import re

import pytest

from .alertmanager_receivers import EVERY_KIND, RECEIVERS, SECRET, readme_example
from .conftest import component
from .rendering import RenderError, run_playbook


@pytest.fixture(scope="module")
def values(render):
    return component(render(["kube_prometheus_stack"])["kube_prometheus_stack"], "kube-prometheus-stack")["values"]


NTFY = RECEIVERS[0]


def _alertmanager(render, **extra):
    comps = render(["kube_prometheus_stack"], **extra)["kube_prometheus_stack"]
    return component(comps, "kube-prometheus-stack")["values"]["alertmanager"]


def test_by_default_alerts_are_visible_and_reach_nobody(values):
    config = values["alertmanager"]["config"]
    assert config["receivers"] == [{"name": "null"}]
    assert config["route"]["receiver"] == "null"
    assert config["route"]["routes"][0] == {"receiver": "null", "matchers": ['alertname = "Watchdog"']}


def test_a_receiver_of_each_kind_its_routes_and_secrets_are_rendered(render):
    alertmanager = _alertmanager(render, **EVERY_KIND)
    config = alertmanager["config"]
    assert config["receivers"] == [{"name": "null"}, *RECEIVERS]
    assert config["route"]["receiver"] == "email"
    assert [r["receiver"] for r in config["route"]["routes"]] == ["null", "ntfy", "discord", "slack"], "Watchdog first"
    nested = config["route"]["routes"][1]["routes"]
    assert nested == [{"receiver": "telegram", "matchers": ['namespace = "monitoring"']}]
    assert alertmanager["alertmanagerSpec"]["secrets"] == [SECRET]


def _with(receiver, **fields):
    """EVERY_KIND with ``receiver``'s first config changed by ``fields`` (None removes a field)."""
    receivers = []
    for original in RECEIVERS:
        item = {k: ([dict(c) for c in v] if isinstance(v, list) else v) for k, v in original.items()}
        if item["name"] == receiver:
            config = next(v for k, v in item.items() if k.endswith("_configs"))[0]
            for key, value in fields.items():
                config.pop(key, None) if value is None else config.__setitem__(key, value)
        receivers.append(item)
    return dict(EVERY_KIND, kube_prometheus_stack_alertmanager_receivers=receivers)


INLINE = [
    ("ntfy", "url", "https://ntfy.sh/my-secret-topic", "webhook_configs[0]"),
    ("email", "auth_password", "hunter2", "email_configs[0]"),
    ("discord", "webhook_url", "https://discord.com/api/webhooks/1/x", "discord_configs[0]"),
    ("telegram", "bot_token", "123:abc", "telegram_configs[0]"),
    ("slack", "api_url", "https://hooks.slack.com/services/T/B/x", "slack_configs[0]"),
]


@pytest.mark.parametrize(("receiver", "field", "value", "where"), INLINE, ids=[i[1] for i in INLINE])
def test_an_inline_credential_is_refused_naming_receiver_field_and_the_file_form(render, receiver, field, value,
                                                                                  where):
    with pytest.raises(RenderError) as error:
        render(["kube_prometheus_stack"], **_with(receiver, **{field: value, field + "_file": None}))
    message = str(error.value)
    assert "receiver '%s', %s.%s: a credential written inline" % (receiver, where, field) in message
    assert "write %s_file: /etc/alertmanager/secrets/<secret>/<key>" % field in message
    assert value not in message, "the refusal must not print the credential"


def test_a_credential_inside_http_config_is_refused_too(render):
    basic = {"username": "u", "password": "hunter2"}
    with pytest.raises(RenderError, match=r"receiver 'ntfy', webhook_configs\[0\]\.http_config\.basic_auth\.password: "
                                          r"a credential written inline.*write password_file: ") as error:
        render(["kube_prometheus_stack"], **_with("ntfy", http_config={"basic_auth": basic}))
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("path", [
    "/etc/alertmanager/secrets/other-creds/slack-webhook-url",
    "/etc/alertmanager/slack-webhook-url",
    "/etc/alertmanager/secrets/alert-creds/",
    "/etc/alertmanager/secrets/alert-creds/a/b",
])
def test_a_file_outside_the_listed_secrets_is_refused(render, path):
    message = ("receiver 'slack', slack_configs[0].api_url_file: '%s' is not a key of a Secret listed in "
               "kube_prometheus_stack_alertmanager_secrets (listed: alert-creds)" % path)
    with pytest.raises(RenderError, match=re.escape(message)):
        render(["kube_prometheus_stack"], **_with("slack", api_url_file=path))


def test_a_secret_not_listed_is_refused_even_when_the_path_is_well_formed(render):
    with pytest.raises(RenderError, match=r"api_url_file: .* \(listed: none\)"):
        render(["kube_prometheus_stack"], **dict(EVERY_KIND, kube_prometheus_stack_alertmanager_secrets=[]))


@pytest.mark.parametrize(("extra", "message"), [
    ({"kube_prometheus_stack_alertmanager_default_receiver": "pager"},
     "kube_prometheus_stack_alertmanager_default_receiver 'pager' is not defined"),
    ({"kube_prometheus_stack_alertmanager_receivers": [NTFY],
      "kube_prometheus_stack_alertmanager_routes": [{"receiver": "nfty"}]},
     "kube_prometheus_stack_alertmanager_routes[0]: receiver 'nfty' is not defined"),
    (dict(EVERY_KIND, kube_prometheus_stack_alertmanager_routes=[
        {"receiver": "ntfy", "routes": [{"matchers": ['a = "b"']}, {"receiver": "pagerduty"}]}]),
     "kube_prometheus_stack_alertmanager_routes[0].routes[1]: receiver 'pagerduty' is not defined"),
    ({"kube_prometheus_stack_alertmanager_receivers": [NTFY, NTFY]}, "receiver 'ntfy' is defined 2 times"),
    ({"kube_prometheus_stack_alertmanager_receivers": [{"name": "null"}]}, "receiver 'null' is built in"),
    ({"kube_prometheus_stack_alertmanager_receivers": [{"webhook_configs": []}]},
     "kube_prometheus_stack_alertmanager_receivers[0] needs a name"),
    ({"kube_prometheus_stack_alertmanager_receivers": [{"name": "x", "slack_config": []}]},
     "receiver 'x': unknown field 'slack_config'"),
    ({"kube_prometheus_stack_alertmanager_receivers": [{"name": "x", "slack_configs": {"channel": "#a"}}]},
     "receiver 'x', slack_configs must be a list"),
    (_with("telegram", chat_id=None), "receiver 'telegram', telegram_configs[0] needs chat_id or chat_id_file"),
    (_with("email", smarthost=None), "receiver 'email', email_configs[0] needs smarthost"),
    (_with("discord", webhook_url_file=None), "receiver 'discord', discord_configs[0] needs webhook_url_file"),
    ({"kube_prometheus_stack_alertmanager_secrets": ["Alert_Creds"]}, "'Alert_Creds' is not a Secret name"),
])
def test_what_alertmanager_refuses_is_refused_before_anything_is_sent(render, extra, message):
    with pytest.raises(RenderError, match=re.escape(message)):
        render(["kube_prometheus_stack"], **extra)


# A value in a field the role does not inspect: it reaches the values, and must not reach the log.
SENTINEL = "#sentinel-5e1f"


@pytest.mark.parametrize(("playbook", "written"), [("render.yml", "kube_prometheus_stack.json"),
                                                   ("render_stack.yml", "stack.json")])
def test_the_receivers_are_not_logged_even_verbose(tmp_path, playbook, written):
    receivers = [dict(r) for r in RECEIVERS]
    receivers[-1] = dict(receivers[-1], slack_configs=[dict(receivers[-1]["slack_configs"][0], channel=SENTINEL)])
    extra = dict(EVERY_KIND, kube_prometheus_stack_alertmanager_receivers=receivers,
                 render_roles=["kube_prometheus_stack"], render_dest=str(tmp_path))
    proc = run_playbook(playbook, extra, "-vvv", ANSIBLE_STDOUT_CALLBACK="default")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert SENTINEL in (tmp_path / written).read_text(), "the receiver was rendered"
    assert SENTINEL not in proc.stdout + proc.stderr


def test_the_readme_example_is_accepted_and_shows_every_kind(render):
    example = readme_example()
    kinds = {k for r in example["kube_prometheus_stack_alertmanager_receivers"] for k in r if k != "name"}
    assert kinds == {k for r in RECEIVERS for k in r if k != "name"}
    config = _alertmanager(render, **example)["config"]
    assert [r["name"] for r in config["receivers"]] == ["null", "ntfy", "email", "discord", "telegram", "slack"]
