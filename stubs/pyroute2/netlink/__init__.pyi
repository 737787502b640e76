# Netlink message base classes. A message is a dict of its header fields plus an "attrs" list of
# NLAs; get() looks a key up as an NLA first (by its short lowercase name, e.g. "ifname" for
# IFLA_IFNAME), then as a field, and descends nested NLAs when given a tuple of keys.
from typing import Any

class nlmsg_base(dict[str, Any]):
    def __init__(
        self,
        data: bytes | None = None,
        offset: int = 0,
        length: int | None = None,
        parent: nlmsg_base | None = None,
        init: object | None = None,
    ) -> None: ...
    def get(self, key: str | tuple[str, ...], default: object = None) -> object: ...
    def get_attr(self, attr: str, default: object = None) -> object: ...

class nlmsg(nlmsg_base): ...
