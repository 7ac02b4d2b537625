"""Download one exact file of a PyPI release with pip's own finder and HTTP session, without
building it (plain `pip download` of an old sdist would try to build its metadata), whatever
Python the release asks for (the file is read, not installed). Used by the
fetch_registry_*.sh scripts, which check the file's sha256 afterwards.

    python scripts/pypi_get.py NAME VERSION FILENAME DEST_DIR
"""
import os
import sys

from pip._internal.index.collector import LinkCollector
from pip._internal.index.package_finder import PackageFinder
from pip._internal.models.search_scope import SearchScope
from pip._internal.models.selection_prefs import SelectionPreferences
from pip._internal.network.session import PipSession

name, ver, fn, dest = sys.argv[1:5]
index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
s = PipSession()
lc = LinkCollector(session=s, search_scope=SearchScope.create(find_links=[], index_urls=[index], no_index=False))
f = PackageFinder.create(link_collector=lc, selection_prefs=SelectionPreferences(allow_yanked=True, ignore_requires_python=True))
c = [c for c in f.find_all_candidates(name) if str(c.version) == ver and c.link.filename == fn]
if not c:
    sys.exit("not found on index: %s %s %s" % (name, ver, fn))
r = s.get(c[0].link.url.split("#")[0], stream=True)
r.raise_for_status()
tmp = os.path.join(dest, fn + ".part")
with open(tmp, "wb") as o:
    for ch in r.iter_content(1 << 20):
        o.write(ch)
os.replace(tmp, os.path.join(dest, fn))
