"""vmr: find the moments inside lecture videos that match what you type."""

from vmr import confine as _confine  # noqa: F401 (first: settings other libraries read as they load)

from vmr.library import Library
from vmr.search.moments import Moment
from vmr.search.options import SearchOptions

__version__ = "0.1.0"
__all__ = ["Library", "Moment", "SearchOptions", "__version__"]
