class NetlinkError(Exception):
    # the kernel's errno value
    code: int
    extra_code: int
    def __init__(self, code: int, msg: str | None = None) -> None: ...
