# Type stubs for the small part of pyroute2 (0.9.x) that rscni-py's examples use:
# the synchronous IPRoute (RTNL API) and NetlinkError. Only what is imported is declared.
from pyroute2.iproute import IPRoute as IPRoute
from pyroute2.netlink.exceptions import NetlinkError as NetlinkError
