"""A local Slack Web API emulator (Starlette + SQLite) that slack_sdk.WebClient talks to without credentials.

`SlackEmulator` is composed from one module per API family: chat (with reactions), conversations, views, files and
users (with usergroups), socket_mode (apps.connections.open and its websocket), over the workspace's storage in `core` and the HTTP layer in `app`."""

from __future__ import annotations

from sandbox.slack.app import SlackApp
from sandbox.slack.chat import ChatMethods
from sandbox.slack.conversations import ConversationsMethods
from sandbox.slack.core import BOT_USER_ID, TEAM_ID, SlackError, channel_id_for_name, num_to_ts, ts_to_num
from sandbox.slack.files import FilesMethods
from sandbox.slack.socket_mode import SocketModeMethods
from sandbox.slack.users import UsersMethods
from sandbox.slack.views import ViewsMethods

__all__ = ["BOT_USER_ID", "TEAM_ID", "SlackEmulator", "SlackError", "channel_id_for_name", "num_to_ts", "ts_to_num"]


class SlackEmulator(ChatMethods, ConversationsMethods, ViewsMethods, FilesMethods, UsersMethods, SocketModeMethods,
                    SlackApp):
    """A Slack workspace in SQLite behind a Starlette app speaking the Web API wire format.

    tokens=None accepts any token starting with xoxb- or xoxp-; otherwise only the given ones.
    """
