"""Layer kinds, one module each, registered by NetX layer ``type`` in ``netx.registry``."""
