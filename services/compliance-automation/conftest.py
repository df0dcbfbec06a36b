"""Let the tests import this service and platform_common without installing either.

isect (and developers) run ``python3 -m pytest`` from this folder.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.join(HERE, "..", "..", "libs", "python", "platform_common"), HERE):
    path = os.path.normpath(path)
    if path not in sys.path:
        sys.path.insert(0, path)
