import os

# Piccolo finds its engine and apps through this module, wherever the process starts.
os.environ.setdefault("PICCOLO_CONF", "marketplace.piccolo_conf")
