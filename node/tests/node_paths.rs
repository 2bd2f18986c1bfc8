//! Request forms: tile paths are taken as sent (a percent-encoded form is not canonical).

mod node_support;

use node_support::*;

#[test]
fn percent_encoded_tile_paths_are_refused_with_400_and_never_cached() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let (status, _) = append(pair.seq(), "one", "committed").await;
        assert_eq!(status, 200);
        for node in [pair.seq().url(), pair.cos().url()] {
            let http = http_to(&node);
            for (path, want) in [
                ("/tile/0/000.p/2", 200),
                ("/tile/entries/000.p/2", 200),
                ("/tile/0/%30%30%30.p/2", 400),
                ("/tile/0/000.p/%32", 400),
                ("/tile/%30/000.p/2", 400),
                ("/tile/entries/%30%30%30.p/2", 400),
                ("/tile/0/000%2Ep/2", 400),
                ("/tile/0/%30%30%30", 400),
            ] {
                let r = http.get(format!("{node}{path}")).send().await.unwrap();
                assert_eq!(r.status().as_u16(), want, "{node}{path}");
                if want != 200 {
                    let cache = r.headers().get("cache-control").unwrap();
                    assert_eq!(cache, "no-store", "{path}");
                }
            }
        }
        pair.stop().await;
    });
}
