//! Pure graph rules over group-in-group edges: effective membership (transitive, cycle-safe)
//! and cycle detection for a new edge. Adapters call these under their own lock or
//! transaction so the rules are the same everywhere.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::model::GroupId;

/// Group-in-group edges: `parents[child]` = groups that directly contain `child`.
#[derive(Debug, Default, Clone)]
pub struct GroupGraph {
    parents: HashMap<GroupId, Vec<GroupId>>,
    children: HashMap<GroupId, Vec<GroupId>>,
}

impl GroupGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the edge "`child` is a member of `parent`".
    pub fn add_edge(&mut self, parent: GroupId, child: GroupId) {
        self.parents.entry(child).or_default().push(parent);
        self.children.entry(parent).or_default().push(child);
    }

    /// Every group reachable upwards from `start` (including `start` itself): the groups whose
    /// members the holder of `start` effectively is. Terminates on cycles.
    pub fn ancestors_of(&self, start: impl IntoIterator<Item = GroupId>) -> BTreeSet<GroupId> {
        walk(start, |g| {
            self.parents.get(&g).map(Vec::as_slice).unwrap_or(&[])
        })
    }

    /// `true` when making `child` a member of `parent` would close a cycle (including
    /// `child == parent`): that is, when `parent` is already reachable downwards from `child`.
    pub fn would_create_cycle(&self, parent: GroupId, child: GroupId) -> bool {
        walk([child], |g| {
            self.children.get(&g).map(Vec::as_slice).unwrap_or(&[])
        })
        .contains(&parent)
    }
}

fn walk<'a>(
    start: impl IntoIterator<Item = GroupId>,
    next: impl Fn(GroupId) -> &'a [GroupId],
) -> BTreeSet<GroupId> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<GroupId> = VecDeque::new();
    for g in start {
        if seen.insert(g) {
            queue.push_back(g);
        }
    }
    while let Some(g) = queue.pop_front() {
        for &n in next(g) {
            if seen.insert(n) {
                queue.push_back(n);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn g(n: u128) -> GroupId {
        GroupId(Uuid::from_u128(100 + n))
    }

    #[test]
    fn a_depth_five_chain_is_fully_transitive() {
        let mut graph = GroupGraph::new();
        for i in 0..5 {
            graph.add_edge(g(i + 1), g(i)); // g0 ⊂ g1 ⊂ … ⊂ g5
        }
        let reached = graph.ancestors_of([g(0)]);
        assert_eq!(reached, (0..=5).map(g).collect());
        assert_eq!(graph.ancestors_of([g(3)]), (3..=5).map(g).collect());
    }

    #[test]
    fn a_diamond_is_reached_once_through_both_paths() {
        let mut graph = GroupGraph::new();
        graph.add_edge(g(1), g(0));
        graph.add_edge(g(2), g(0));
        graph.add_edge(g(3), g(1));
        graph.add_edge(g(3), g(2));
        assert_eq!(
            graph.ancestors_of([g(0)]),
            [g(0), g(1), g(2), g(3)].into_iter().collect()
        );
    }

    #[test]
    fn cycles_are_detected_before_they_exist() {
        let mut graph = GroupGraph::new();
        graph.add_edge(g(1), g(0));
        graph.add_edge(g(2), g(1));
        assert!(
            graph.would_create_cycle(g(0), g(2)),
            "g2 ⊂ g0 would close g0 ⊂ g1 ⊂ g2"
        );
        assert!(graph.would_create_cycle(g(0), g(0)), "self-membership");
        assert!(!graph.would_create_cycle(g(3), g(2)));
        assert!(
            !graph.would_create_cycle(g(2), g(0)),
            "a shortcut is not a cycle"
        );
    }

    #[test]
    fn walking_terminates_even_on_a_cyclic_graph() {
        let mut graph = GroupGraph::new();
        graph.add_edge(g(1), g(0));
        graph.add_edge(g(0), g(1));
        assert_eq!(
            graph.ancestors_of([g(0)]),
            [g(0), g(1)].into_iter().collect()
        );
    }

    #[test]
    fn removing_an_edge_cuts_transitive_access() {
        let edges = [(g(1), g(0)), (g(2), g(1)), (g(3), g(2))];
        let full: GroupGraph = edges.iter().fold(GroupGraph::new(), |mut gr, (p, c)| {
            gr.add_edge(*p, *c);
            gr
        });
        assert!(full.ancestors_of([g(0)]).contains(&g(3)));
        let cut: GroupGraph =
            edges
                .iter()
                .filter(|(p, _)| *p != g(2))
                .fold(GroupGraph::new(), |mut gr, (p, c)| {
                    gr.add_edge(*p, *c);
                    gr
                });
        let reached = cut.ancestors_of([g(0)]);
        assert!(reached.contains(&g(1)));
        assert!(!reached.contains(&g(2)) && !reached.contains(&g(3)));
    }
}
