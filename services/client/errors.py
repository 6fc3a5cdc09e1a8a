"""What can go wrong when talking to the license server, as exceptions.

``code`` matches the error codes of ``events.replies.ErrorCode`` so a CLI or a
product can treat a client-side failure and a server's refusal the same way.
"""

from __future__ import annotations

from events.replies import ErrorCode, Reply


class ClientError(Exception):
    """Base of every error the client raises."""

    code: str = "client_error"

    @property
    def message(self) -> str:
        return str(self)


class CommandTimeout(ClientError):
    """No reply before the overall deadline, although every attempt was delivered."""

    code = ErrorCode.TIMEOUT

    def __init__(self, command_type: str, command_id: str, timeout: float, attempts: int) -> None:
        self.command_type = command_type
        self.command_id = command_id
        self.timeout = timeout
        self.attempts = attempts
        super().__init__(
            f"no reply to {command_type} (command id {command_id}) within {timeout:g} s "
            f"after {attempts} attempt(s): is a license server running for this site?"
        )


class BrokerUnavailable(ClientError):
    """The broker could not be reached (or refused us) before the deadline."""

    code = ErrorCode.UNAVAILABLE

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(f"cannot reach the message broker at {url}: {detail}")


class ProtocolError(ClientError):
    """The server answered something that is not a reply."""

    code = "protocol"


class ClientClosed(ClientError):
    """The client was closed while a command was in flight."""

    code = "closed"


class CommandRejected(ClientError):
    """The server answered, and the answer is a refusal (``reply.ok`` is false)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        error = reply.error
        self.code = error.code if error else "error"
        self.reason: str | None = error.reason if error else None
        self._message = error.message if error else "refused without a reason"
        super().__init__(self._message if not self.reason else f"{self._message} ({self.reason})")

    @property
    def message(self) -> str:
        return self._message


class LicenseDenied(CommandRejected):
    """An acquire the server refused: ``code`` is usually ``denied``, ``reason`` says why."""
