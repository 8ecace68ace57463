"""One receiver of each kind the role README documents, credentials from the Secret `alert-creds`.

Shared by the role tests (tests/unit/roles) and the amtool check of the config the real chart renders
(tests/integration/charts), so both check the shapes the README shows.
"""

from pathlib import Path

import yaml

README = Path(__file__).resolve().parents[3] / "roles" / "kube_prometheus_stack" / "README.md"
SECRET = "alert-creds"
MOUNT = "/etc/alertmanager/secrets/%s/" % SECRET

RECEIVERS = [
    # ntfy: Alertmanager has no ntfy notifier; its topic URL (a secret on a shared server) takes the webhook.
    {"name": "ntfy", "webhook_configs": [{"url_file": MOUNT + "ntfy-url", "send_resolved": True}]},
    {"name": "email", "email_configs": [{"to": "me@example.org", "from": "alertmanager@example.org",
                                         "smarthost": "smtp.example.org:587",
                                         "auth_username": "alertmanager@example.org",
                                         "auth_password_file": MOUNT + "smtp-password"}]},
    {"name": "discord", "discord_configs": [{"webhook_url_file": MOUNT + "discord-webhook-url"}]},
    {"name": "telegram", "telegram_configs": [{"bot_token_file": MOUNT + "telegram-bot-token",
                                               "chat_id": 123456789}]},
    {"name": "slack", "slack_configs": [{"api_url_file": MOUNT + "slack-webhook-url", "channel": "#homelab"}]},
]

EVERY_KIND = {
    "kube_prometheus_stack_alertmanager_receivers": RECEIVERS,
    "kube_prometheus_stack_alertmanager_default_receiver": "email",
    "kube_prometheus_stack_alertmanager_routes": [
        {"receiver": "ntfy", "matchers": ['severity = "critical"'], "continue": True,
         "routes": [{"receiver": "telegram", "matchers": ['namespace = "monitoring"']}]},
        {"receiver": "discord", "matchers": ['severity = "warning"']},
        {"receiver": "slack", "matchers": ['severity = "info"']},
    ],
    "kube_prometheus_stack_alertmanager_secrets": [SECRET],
}


def readme_example():
    """The role variables of the README's receivers example."""
    section = README.read_text().split("## Alerts that reach someone", 1)[1]
    return yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
