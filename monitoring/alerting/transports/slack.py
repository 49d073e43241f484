"""Slack incoming webhook: a short readable message with status, value and a link."""

import json

from monitoring.alerting.transports.base import Notification, Transport
from monitoring.alerting.transports.http import post_json

ICONS = {"firing": ":rotating_light:", "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}


class SlackTransport(Transport):
    kind = "slack"

    @classmethod
    def config_errors(cls, *, url, secret, addresses):
        if not secret.startswith(("https://", "http://")):
            return {"secret": "Paste the Slack incoming-webhook URL (https://hooks.slack.com/services/…)."}
        return {}

    def text(self, n: Notification) -> str:
        icon = ICONS.get(n.status, ":bell:")
        summary = _escape(n.summary)
        head = f"{icon} *{n.status.upper()}* [{n.severity}] {summary}"
        if n.alert_url:
            head = f"{icon} *{n.status.upper()}* [{n.severity}] <{n.alert_url}|{summary}>"
        lines = [head]
        if n.value is not None:
            lines.append(f"Value: `{n.value:g}`")
        if n.labels:
            lines.append("Labels: " + ", ".join(f"`{_escape(f'{k}={v}')}`" for k, v in sorted(n.labels.items())))
        if n.actor:
            lines.append(f"By: {_escape(n.actor)}")
        if n.step is not None:
            lines.append(f"Escalation step {n.step + 1}")
        return "\n".join(lines)

    def send(self, notification: Notification, *, recipients=None) -> str:
        body = json.dumps({"text": self.text(notification)}).encode()
        return post_json(self.channel.secret, body=body, headers={}, timeout=self.timeout)


def _escape(text: str) -> str:
    """Slack's control characters: labels and summaries come from services' metrics, and an
    unescaped `<!channel>` or `<https://evil|click>` in them would ping everyone or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
