//! The image dependency graph: which images a selection needs, the order to build them in,
//! and the cycle to print when there is one. Nodes are indices; edges point at dependencies.

use std::collections::BTreeSet;

/// Every node reachable from `roots` through dependencies, roots included.
pub fn closure(deps: &[Vec<usize>], roots: &[usize]) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<usize> = roots.to_vec();
    while let Some(n) = stack.pop() {
        if seen.insert(n) {
            stack.extend(deps[n].iter().copied());
        }
    }
    seen
}

/// A cycle among `nodes`, as a path that starts and ends at the same node.
pub fn find_cycle(deps: &[Vec<usize>], nodes: &BTreeSet<usize>) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; deps.len()];
    for &start in nodes {
        if mark[start] != Mark::New {
            continue;
        }
        // Iterative DFS keeping the current path.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            if let Some(&d) = deps[node].get(*next) {
                *next += 1;
                match mark[d] {
                    Mark::Open => {
                        let from = path.iter().position(|(n, _)| *n == d).unwrap();
                        let mut cycle: Vec<usize> = path[from..].iter().map(|(n, _)| *n).collect();
                        cycle.push(d);
                        return Some(cycle);
                    }
                    Mark::New => {
                        mark[d] = Mark::Open;
                        path.push((d, 0));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}

/// `nodes` ordered so that each comes after its dependencies; ties broken by index so the
/// order is stable. The caller has ruled out cycles with [`find_cycle`].
pub fn topo_order(deps: &[Vec<usize>], nodes: &BTreeSet<usize>) -> Vec<usize> {
    let mut done = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < nodes.len() {
        let before = order.len();
        for &n in nodes {
            if !done.contains(&n)
                && deps[n]
                    .iter()
                    .all(|d| done.contains(d) || !nodes.contains(d))
            {
                order.push(n);
                done.insert(n);
            }
        }
        assert!(
            order.len() > before,
            "topo_order called on a graph with a cycle"
        );
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[usize]) -> BTreeSet<usize> {
        v.iter().copied().collect()
    }

    #[test]
    fn closure_follows_dependencies() {
        let deps = vec![vec![], vec![0], vec![1], vec![]];
        assert_eq!(closure(&deps, &[2]), set(&[0, 1, 2]));
        assert_eq!(closure(&deps, &[3]), set(&[3]));
    }

    #[test]
    fn order_puts_dependencies_first() {
        // 4 needs 1 and 3; 1 needs 0; 3 needs 2.
        let deps = vec![vec![], vec![0], vec![], vec![2], vec![1, 3]];
        let all = set(&[0, 1, 2, 3, 4]);
        assert_eq!(topo_order(&deps, &all), [0, 1, 2, 3, 4]);
        assert_eq!(topo_order(&deps, &set(&[1, 4])), [1, 4]);
        let deps = vec![vec![1], vec![]];
        assert_eq!(topo_order(&deps, &set(&[0, 1])), [1, 0]);
    }

    #[test]
    fn cycles_are_found_as_paths() {
        let deps = vec![vec![1], vec![2], vec![0], vec![]];
        assert_eq!(
            find_cycle(&deps, &set(&[0, 1, 2, 3])),
            Some(vec![0, 1, 2, 0])
        );
        let deps = vec![vec![0]];
        assert_eq!(find_cycle(&deps, &set(&[0])), Some(vec![0, 0]));
        let deps = vec![vec![], vec![0], vec![0, 1]];
        assert_eq!(find_cycle(&deps, &set(&[0, 1, 2])), None);
    }
}
