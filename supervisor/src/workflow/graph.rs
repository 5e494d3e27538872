//! The dependency graph of a workflow's steps: execution order and cycles.

use std::collections::{BTreeMap, BTreeSet};

use super::Workflow;

/// Lists, for each step, the indices of the steps it depends on. Unknown ids,
/// self-references and repeats are left out (validation reports them); a
/// repeated step id resolves to its first step.
fn dependency_indices(workflow: &Workflow) -> Vec<Vec<usize>> {
    let mut index_of = BTreeMap::new();
    for (index, step) in workflow.steps.iter().enumerate() {
        index_of.entry(step.id.as_str()).or_insert(index);
    }

    workflow
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let mut seen = BTreeSet::new();
            step.depends_on
                .iter()
                .filter_map(|id| index_of.get(id.as_str()).copied())
                .filter(|dependency| *dependency != index && seen.insert(*dependency))
                .collect()
        })
        .collect()
}

/// Returns step indices in an order where every step comes after the steps
/// it depends on. Among steps that are ready together, the one declared
/// first comes first.
///
/// On a workflow that passed [`crate::workflow::validate`] the result contains
/// every index. Steps on a cycle, and the steps that depend on them, are
/// left out.
pub fn topological_order(workflow: &Workflow) -> Vec<usize> {
    let dependencies = dependency_indices(workflow);
    let mut dependents = vec![Vec::new(); dependencies.len()];
    let mut waiting_on: Vec<usize> = dependencies.iter().map(Vec::len).collect();
    for (index, step_dependencies) in dependencies.iter().enumerate() {
        for dependency in step_dependencies {
            dependents[*dependency].push(index);
        }
    }

    let mut ready: BTreeSet<usize> = (0..dependencies.len())
        .filter(|index| waiting_on[*index] == 0)
        .collect();
    let mut order = Vec::with_capacity(dependencies.len());
    while let Some(index) = ready.pop_first() {
        order.push(index);
        for dependent in &dependents[index] {
            waiting_on[*dependent] -= 1;
            if waiting_on[*dependent] == 0 {
                ready.insert(*dependent);
            }
        }
    }
    order
}

/// Finds dependency cycles. Each cycle lists step indices from a step to the
/// step it depends on, and so on, ending with the first step again
/// (`[a, b, a]` means a depends on b and b on a). Self-references are not
/// reported here.
pub(crate) fn find_cycles(workflow: &Workflow) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }

    let dependencies = dependency_indices(workflow);
    let mut marks = vec![Mark::Unvisited; dependencies.len()];
    let mut cycles = Vec::new();

    // Iterative depth-first search: a document may hold tens of thousands of
    // steps in a chain, too deep for recursion. Each path entry is a step and
    // the position of its next dependency to visit.
    for start in 0..dependencies.len() {
        if marks[start] != Mark::Unvisited {
            continue;
        }
        marks[start] = Mark::OnPath;
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];

        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            let Some(&dependency) = dependencies[node].get(*next) else {
                marks[node] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;

            match marks[dependency] {
                Mark::Unvisited => {
                    marks[dependency] = Mark::OnPath;
                    path.push((dependency, 0));
                }
                Mark::OnPath => {
                    let from = path
                        .iter()
                        .position(|(step, _)| *step == dependency)
                        .unwrap_or_default();
                    let mut cycle: Vec<usize> =
                        path[from..].iter().map(|(step, _)| *step).collect();
                    cycle.push(dependency);
                    cycles.push(cycle);
                }
                Mark::Done => {}
            }
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::StepSpec;

    fn workflow(edges: &[(&str, &[&str])]) -> Workflow {
        let steps = edges
            .iter()
            .map(|(id, depends_on)| StepSpec {
                id: id.to_string(),
                handler: "p.h".to_string(),
                inputs: serde_json::Map::new(),
                depends_on: depends_on
                    .iter()
                    .map(|dependency| dependency.to_string())
                    .collect(),
                timeout_seconds: None,
                profile: None,
            })
            .collect();
        Workflow {
            name: "w".to_string(),
            version: "1.0.0".to_string(),
            kind: "test".to_string(),
            description: None,
            config: None,
            parameters: Vec::new(),
            steps,
        }
    }

    #[test]
    fn order_follows_dependencies() {
        let graph = workflow(&[("c", &["b"]), ("b", &["a"]), ("a", &[])]);
        assert_eq!(topological_order(&graph), vec![2, 1, 0]);
    }

    #[test]
    fn order_keeps_declaration_order() {
        let graph = workflow(&[("a", &[]), ("b", &[]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(topological_order(&graph), vec![0, 1, 2, 3]);
    }

    #[test]
    fn order_handles_diamond() {
        let graph = workflow(&[("d", &["b", "c"]), ("b", &["a"]), ("c", &["a"]), ("a", &[])]);
        assert_eq!(topological_order(&graph), vec![3, 1, 2, 0]);
    }

    #[test]
    fn order_skips_cycle_members() {
        let graph = workflow(&[("a", &["b"]), ("b", &["a"]), ("c", &[]), ("d", &["a"])]);
        assert_eq!(topological_order(&graph), vec![2]);
    }

    #[test]
    fn order_ignores_bad_references() {
        let graph = workflow(&[("a", &["a", "zz"]), ("b", &["a", "a"])]);
        assert_eq!(topological_order(&graph), vec![0, 1]);
    }

    #[test]
    fn cycle_of_two_found() {
        let graph = workflow(&[("a", &["b"]), ("b", &["a"])]);
        assert_eq!(find_cycles(&graph), vec![vec![0, 1, 0]]);
    }

    #[test]
    fn cycle_of_three_found() {
        let graph = workflow(&[("x", &[]), ("a", &["b"]), ("b", &["c"]), ("c", &["a", "x"])]);
        assert_eq!(find_cycles(&graph), vec![vec![1, 2, 3, 1]]);
    }

    #[test]
    fn acyclic_has_no_cycles() {
        let graph = workflow(&[("d", &["b", "c"]), ("b", &["a"]), ("c", &["a"]), ("a", &[])]);
        assert!(find_cycles(&graph).is_empty());
    }

    #[test]
    fn self_reference_not_a_cycle() {
        let graph = workflow(&[("a", &["a"])]);
        assert!(find_cycles(&graph).is_empty());
    }

    #[test]
    fn long_chain_does_not_overflow() {
        let ids: Vec<String> = (0..50_000).map(|index| format!("s{index}")).collect();
        let mut graph = workflow(&[]);
        for (index, id) in ids.iter().enumerate() {
            let mut step = workflow(&[(id, &[])]).steps.remove(0);
            if index > 0 {
                step.depends_on.push(ids[index - 1].clone());
            }
            graph.steps.push(step);
        }
        graph.steps[0].depends_on.push(ids[ids.len() - 1].clone());
        let cycles = find_cycles(&graph);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), ids.len() + 1);
    }
}
