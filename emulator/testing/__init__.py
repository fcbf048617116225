"""What a test holds: the handle, its rules, and the requests it saw."""

from .handle import ControlError, ParadigmEmulator, RemoteServer
from .requests import Request, RequestLog
from .rules import Rule

__all__ = ["ControlError", "ParadigmEmulator", "RemoteServer", "Request", "RequestLog", "Rule"]
