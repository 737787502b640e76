from types import TracebackType

from typing_extensions import Self

class SyncAPI:
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    def close(self, code: int = ...) -> None: ...
