"""`python -m ha_bridge`: run the bridge (gateway-bridge and functions/common on PYTHONPATH)."""

import sys

from ha_bridge.main import main

sys.exit(main())
