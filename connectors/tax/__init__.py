"""Tax providers reached over the network (AvaTax). The provider interface is in :mod:`core.tax`."""
