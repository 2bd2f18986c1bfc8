"""Drives OASIS taxii2-client (and stix2) against a running dyad node's TAXII 2.1 feed.

Usage: taxii_client.py BASE_URL TOKEN EXPECTED_RECEIVED PEER_NAME
Exit 2 when taxii2-client or stix2 is not installed (the caller decides whether that is a
skip), 1 on a failed check, 0 when every check passed. The node's certificate is
self-signed and pinned by dyad's own clients; this check does not verify it.
"""
import os
import sys

try:
    import requests
    import stix2
    import urllib3
    from taxii2client.v21 import Server, as_pages
except ImportError as e:  # the caller skips or fails
    print(f"taxii2-client/stix2 not installed: {e}", file=sys.stderr)
    sys.exit(2)

urllib3.disable_warnings()
# requests lets a CA bundle named in the environment override a session's verify=False.
for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(name, None)


class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main():
    base, token, expected, peer = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    server = Server(f"{base}/taxii2/", auth=Bearer(token), verify=False)
    check(len(server.api_roots) == 1, "discovery lists one API root")
    root = server.default
    check(root is not None and root.url.endswith("/taxii2/api/"), f"default root {root and root.url}")
    titles = {c.title: c for c in root.collections}
    check(set(titles) == {f"received from {peer}", f"sent to {peer}"}, f"collections {sorted(titles)}")
    received = titles[f"received from {peer}"]
    check(received.can_read and not received.can_write, "read-only collection")

    # Paging with next, through every object.
    ids, pages, dates = [], 0, []
    for envelope in as_pages(received.get_objects, per_request=1000):
        pages += 1
        objects = envelope.get("objects", [])
        ids.extend(o["id"] for o in objects)
    check(len(ids) == expected and len(set(ids)) == expected, f"{len(ids)} objects paged, {len(set(ids))} unique")
    check(pages == (expected + 999) // 1000, f"{pages} pages")

    # Every object parses as STIX 2.1 with the stix2 library (a sample of each page size).
    sample = received.get_objects(limit=50)["objects"]
    for o in sample:
        check(stix2.parse(o, allow_custom=False).type == "indicator", f"stix2 parses {o['id']}")

    # added_after: the manifest's date_added of the middle object, then exactly the rest.
    manifest = []
    for page in as_pages(received.get_manifest, per_request=1000):
        manifest.extend(page.get("objects", []))
    check(len(manifest) == expected, f"manifest holds {len(manifest)}")
    check(all("x_dyad_index" in m for m in manifest), "manifest records carry x_dyad_index")
    middle = manifest[expected // 2 - 1]["date_added"]
    after = []
    for envelope in as_pages(received.get_objects, per_request=1000, added_after=middle):
        after.extend(o["id"] for o in envelope.get("objects", []))
    check(len(after) == expected - expected // 2, f"added_after {middle}: {len(after)}")
    check(after == ids[expected // 2:], "added_after returns the later objects in order")

    # One object and its versions.
    first = ids[0]
    one = received.get_object(first)
    check([o["id"] for o in one["objects"]] == [first], "get_object")
    check(len(received.object_versions(first)["versions"]) == 1, "object_versions")

    # No credential: 401.
    anonymous = requests.get(f"{base}/taxii2/", headers={"Accept": "application/taxii+json;version=2.1"}, verify=False)
    check(anonymous.status_code == 401, f"no credential: {anonymous.status_code}")
    print(f"taxii2-client: {len(ids)} objects in {pages} pages, added_after {len(after)}")


main()
