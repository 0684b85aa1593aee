//! Shards: the split of one build across N CI jobs (`build --shard I/N`, `plan --shards N`).
//! Pure: the images of a request in dependency order and a weight per image → a shard per
//! image. The images are ordered by level (the longest chain of dependencies below them),
//! then cut into N consecutive runs of about equal weight (image count, or build seconds
//! measured earlier). An image's dependencies therefore sit in its own shard or an earlier
//! one: shard I only ever waits for shards 1…I-1, so shards may run at once or one after the
//! other in order.

use std::collections::BTreeMap;

/// One shard of a sharded build: `index` of `count`, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The most shards accepted: more is a typo, not a CI matrix.
pub const MAX_SHARDS: usize = 1000;

/// Parses `I/N` (`--shard 2/4`): whole numbers, 1 ≤ I ≤ N.
pub fn parse(text: &str) -> Result<Shard, String> {
    let shown = crate::reference::shorten(text, 40);
    let hint = "write `I/N`: shard I of N, from 1, e.g. `1/4` … `4/4`";
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<usize>().ok())
            .flatten()
    };
    let Some((i, n)) = text.split_once('/') else {
        return Err(format!("`{shown}` is not a shard; {hint}"));
    };
    let (Some(index), Some(count)) = (number(i), number(n)) else {
        return Err(format!("`{shown}` is not a shard; {hint}"));
    };
    let count = parse_count(count).map_err(|e| format!("`{shown}`: {e}"))?;
    if index == 0 || index > count {
        return Err(format!(
            "`{shown}`: shard {index} does not exist; shards are numbered 1 to {count}"
        ));
    }
    Ok(Shard { index, count })
}

/// Parses the N of `plan --shards N`.
pub fn parse_shards(text: &str) -> Result<usize, String> {
    let n = text.parse::<usize>().map_err(|_| {
        format!(
            "`{}` is not a number of shards",
            crate::reference::shorten(text, 40)
        )
    })?;
    parse_count(n)
}

fn parse_count(n: usize) -> Result<usize, String> {
    match n {
        0 => Err("0 shards would build nothing; give a number of shards from 1 up".into()),
        n if n > MAX_SHARDS => Err(format!("{n} shards is more than the {MAX_SHARDS} allowed")),
        n => Ok(n),
    }
}

/// The level of every node of `order` (a dependency order): 0 without dependencies among
/// `order`, else one more than its highest dependency.
pub fn levels(deps: &[Vec<usize>], order: &[usize]) -> BTreeMap<usize, usize> {
    let mut level: BTreeMap<usize, usize> = BTreeMap::new();
    for &n in order {
        let l = deps[n]
            .iter()
            .filter_map(|d| level.get(d))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(n, l);
    }
    level
}

/// The shard (from 0) of every node of `order` (a dependency order) among `count` shards,
/// `weight` giving each node's cost (at least 1). Nodes are taken by level, then in `order`;
/// a node goes to the shard its weight's midpoint falls in.
pub fn assign(
    deps: &[Vec<usize>],
    order: &[usize],
    weight: impl Fn(usize) -> u64,
    count: usize,
) -> BTreeMap<usize, usize> {
    let level = levels(deps, order);
    let mut by_level: Vec<(usize, usize, usize)> = order
        .iter()
        .enumerate()
        .map(|(pos, &n)| (level[&n], pos, n))
        .collect();
    by_level.sort_unstable();
    let weights: Vec<u128> = by_level
        .iter()
        .map(|&(_, _, n)| u128::from(weight(n).max(1)))
        .collect();
    let total: u128 = weights.iter().sum::<u128>().max(1);
    let count = count.max(1) as u128;
    let mut done: u128 = 0;
    let mut out = BTreeMap::new();
    for (&(_, _, n), &w) in by_level.iter().zip(&weights) {
        let shard = ((2 * done + w) * count / (2 * total)).min(count - 1);
        out.insert(n, shard as usize);
        done += w;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parsing() {
        assert_eq!(parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(parse("1/1"), Ok(Shard { index: 1, count: 1 }));
        let hint = "write `I/N`: shard I of N, from 1, e.g. `1/4` … `4/4`";
        for bad in ["1/", "a/b", "", "/2", "1-2", "+1/2", "1/2/3", " 1/2"] {
            assert_eq!(parse(bad), Err(format!("`{bad}` is not a shard; {hint}")));
        }
        assert_eq!(
            parse("0/2"),
            Err("`0/2`: shard 0 does not exist; shards are numbered 1 to 2".into())
        );
        assert_eq!(
            parse("3/2"),
            Err("`3/2`: shard 3 does not exist; shards are numbered 1 to 2".into())
        );
        assert_eq!(
            parse("1/0"),
            Err("`1/0`: 0 shards would build nothing; give a number of shards from 1 up".into())
        );
        assert_eq!(
            parse("1/1001"),
            Err("`1/1001`: 1001 shards is more than the 1000 allowed".into())
        );
        assert_eq!(parse_shards("3"), Ok(3));
        assert_eq!(
            parse_shards("x"),
            Err("`x` is not a number of shards".into())
        );
    }

    #[test]
    fn levels_and_cuts() {
        // 0 ← 1 ← 2 (a chain), 3 alone, 4 needs 0 and 3.
        let deps = vec![vec![], vec![0], vec![1], vec![], vec![0, 3]];
        let order = [0, 1, 2, 3, 4];
        let level = levels(&deps, &order);
        assert_eq!(level.values().copied().collect::<Vec<_>>(), [0, 1, 2, 0, 1]);
        // By level: 0 3 | 1 4 | 2.
        let one = |_| 1;
        let got = assign(&deps, &order, one, 2);
        assert_eq!(got.values().copied().collect::<Vec<_>>(), [0, 1, 1, 0, 1]);
        let got = assign(&deps, &order, one, 5);
        assert_eq!(got.values().copied().collect::<Vec<_>>(), [0, 2, 4, 1, 3]);
        // A heavy root fills shard 0 alone.
        let got = assign(&deps, &order, |n| if n == 0 { 10 } else { 1 }, 2);
        assert_eq!(got.values().copied().collect::<Vec<_>>(), [0, 1, 1, 1, 1]);
        assert!(assign(&deps, &[], one, 3).is_empty());
    }

    /// A random DAG: node i depends on some nodes below i.
    fn dag() -> impl Strategy<Value = Vec<Vec<usize>>> {
        (1usize..40).prop_flat_map(|n| {
            proptest::collection::vec(proptest::collection::vec(any::<usize>(), 0..4), n).prop_map(
                |raw| {
                    raw.iter()
                        .enumerate()
                        .map(|(i, ds)| {
                            if i == 0 {
                                Vec::new()
                            } else {
                                ds.iter().map(|d| d % i).collect()
                            }
                        })
                        .collect()
                },
            )
        })
    }

    proptest! {
        #[test]
        fn every_image_in_one_shard_after_its_dependencies(
            deps in dag(),
            count in 1usize..8,
            weights in proptest::collection::vec(0u64..100, 40),
        ) {
            let order: Vec<usize> = (0..deps.len()).collect();
            let weight = |n: usize| weights[n];
            let got = assign(&deps, &order, weight, count);
            prop_assert_eq!(got.len(), deps.len());
            for (&n, &s) in &got {
                prop_assert!(s < count);
                for d in &deps[n] {
                    prop_assert!(got[d] <= s, "{} in shard {} needs {} in {}", n, s, d, got[d]);
                }
            }
            prop_assert_eq!(&got, &assign(&deps, &order, weight, count));
        }

        #[test]
        fn shards_are_balanced_by_count(deps in dag(), count in 1usize..8) {
            let order: Vec<usize> = (0..deps.len()).collect();
            let got = assign(&deps, &order, |_| 1, count);
            let mut sizes = vec![0usize; count];
            for s in got.values() {
                sizes[*s] += 1;
            }
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "{:?}", sizes);
        }
    }
}
