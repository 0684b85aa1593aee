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
/// order is stable: passes over the nodes in index order, each taking every node whose
/// dependencies are done by then. Kept near-linear: a node is looked at when its last
/// dependency is done, in this pass (a higher index) or the next (a lower one). The caller
/// has ruled out cycles with [`find_cycle`].
pub fn topo_order(deps: &[Vec<usize>], nodes: &BTreeSet<usize>) -> Vec<usize> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut waiting = vec![0usize; deps.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); deps.len()];
    for &n in nodes {
        for &d in deps[n].iter().filter(|d| nodes.contains(d)) {
            waiting[n] += 1;
            dependents[d].push(n);
        }
    }
    let mut order = Vec::with_capacity(nodes.len());
    let mut next: Vec<usize> = nodes.iter().copied().filter(|&n| waiting[n] == 0).collect();
    while !next.is_empty() {
        let mut pass: BinaryHeap<Reverse<usize>> = next.drain(..).map(Reverse).collect();
        while let Some(Reverse(n)) = pass.pop() {
            order.push(n);
            for &m in &dependents[n] {
                waiting[m] -= 1;
                if waiting[m] == 0 {
                    if m > n {
                        pass.push(Reverse(m));
                    } else {
                        next.push(m);
                    }
                }
            }
        }
    }
    assert!(
        order.len() == nodes.len(),
        "topo_order called on a graph with a cycle"
    );
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

    /// The order of the earlier implementation (repeated passes in index order), which the
    /// near-linear one must keep exactly.
    fn passes(deps: &[Vec<usize>], nodes: &BTreeSet<usize>) -> Vec<usize> {
        let mut done = BTreeSet::new();
        let mut order = Vec::new();
        while order.len() < nodes.len() {
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
        }
        order
    }

    #[test]
    fn order_is_the_pass_order_on_random_graphs() {
        let mut seed = 7u64;
        let mut rand = move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for _ in 0..300 {
            let n = 1 + rand(12);
            // Edges both ways but acyclic: a random permutation ranks the nodes.
            let mut rank: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                rank.swap(i, rand(i + 1));
            }
            let deps: Vec<Vec<usize>> = (0..n)
                .map(|i| {
                    (0..rand(4))
                        .map(|_| rand(n))
                        .filter(|&d| rank[d] < rank[i])
                        .collect()
                })
                .collect();
            let nodes: BTreeSet<usize> = (0..n).filter(|_| rand(4) > 0).collect();
            assert_eq!(
                topo_order(&deps, &nodes),
                passes(&deps, &nodes),
                "{deps:?} {nodes:?}"
            );
        }
    }

    #[test]
    fn a_long_reversed_chain_is_ordered_quickly() {
        let n = 100_000;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![] })
            .collect();
        let all: BTreeSet<usize> = (0..n).collect();
        let order = topo_order(&deps, &all);
        assert_eq!(order[0], n - 1);
        assert_eq!(order[n - 1], 0);
    }
}
