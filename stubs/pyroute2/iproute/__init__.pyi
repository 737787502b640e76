# pyroute2.iproute picks the platform implementation; on Linux it is pyroute2.iproute.linux.
from pyroute2.iproute.linux import IPRoute as IPRoute
