"""A plugin written the way the README shows must type-check under mypy --strict, with the author's own types."""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import assert_type

from rscni_py import CmdArgs, CNIArgs, CNIPlugin, K8sArgs, NetConf, PluginInfo, override
from rscni_py.types import Result


@dataclass(kw_only=True)
class MyConf(NetConf):
    bridge: str = "cni0"
    mtu: int = 1500


class MyPlugin(CNIPlugin[MyConf, K8sArgs]):
    about = "my-plugin v1.0"

    @override
    def add(self, args: CmdArgs[MyConf, K8sArgs]) -> Result:
        assert_type(args.config, MyConf)
        assert_type(args.config.bridge, str)
        assert_type(args.cni_args, K8sArgs)
        assert_type(args.cni_args.pod_name, str | None)
        assert_type(args.prev_result, Result | None)
        assert_type(args.path, list[str])
        return args.prev_result or Result()

    @override
    def delete(self, args: CmdArgs[MyConf, K8sArgs]) -> None:
        assert_type(args.container_id, str)

    @override
    def check(self, args: CmdArgs[MyConf, K8sArgs]) -> None:
        pass


class DefaultsPlugin(CNIPlugin):
    """No generic parameters: the configuration is the plain NetConf, CNI_ARGS the plain CNIArgs."""

    @override
    def add(self, args: CmdArgs) -> Result:
        assert_type(args.config, NetConf)
        assert_type(args.cni_args, CNIArgs)
        return Result()

    @override
    def delete(self, args: CmdArgs) -> None:
        pass

    @override
    def check(self, args: CmdArgs) -> None:
        pass

    @override
    def version(self) -> PluginInfo:
        return PluginInfo(("1.0.0",))


if __name__ == "__main__":
    MyPlugin.run()
