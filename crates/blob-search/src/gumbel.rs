//! Gumbel search (Danihelka, Guez, Schrittwieser, Silver 2022, "Policy
//! improvement by planning with Gumbel"), following DeepMind's `mctx`:
//!
//! - **Root:** Gumbel-top-k sampling of `m` actions and sequential halving,
//!   written the stateless `mctx` way: simulation k of a tree may only visit
//!   a root action whose visit count equals entry k of
//!   [`halving_sequence`], and among those takes the argmax of
//!   `g(a) + logit(a) + sigma(completedQ(a))`. The first `m` simulations
//!   hence visit the top-m of `g + logit`, and later phases only the actions
//!   that stayed ahead.
//! - **Below the root:** the paper's deterministic rule, argmax of
//!   `pi'(a) - N(a) / (1 + sum_b N(b))` with `pi' = softmax(logit +
//!   sigma(completedQ))` (not PUCT), the mover maximising its own entry of
//!   the per-seat values.
//! - **Completed Q:** a visited action's mean value for the mover; an
//!   unvisited one gets the mixed value of the node (its own network value
//!   mixed with the prior-weighted Q of the visited actions), then min-max
//!   normalised over the node's actions and scaled by `sigma(q) = (c_visit +
//!   max_b N(b)) * c_scale * q`.
//!
//! Logits are `ln(prior)` (the tree stores priors; a softmax is unchanged by
//! the missing constant). Leaves waiting for the network count as visits
//! when choosing where to go next (so one tree can have several in flight)
//! but not in Q.
//!
//! **Several determinized trees.** One Gumbel vector is drawn per decision
//! and shared by the D trees; each tree runs its own sequential halving over
//! its S simulations. The improved policy of the decision is the mean of the
//! trees' improved policies; the action is, among the actions that ended
//! with the most root visits in at least one tree, the argmax of `g(a) +
//! ln(mean improved policy(a))`. With one tree this is exactly the paper's
//! choice (`ln pi' = logit + sigma` up to a constant).

use blob_core::{ActionSet, NUM_ACTIONS, Rng};

use crate::params::GumbelParams;
use crate::tree::{ROOT, Tree};

/// What Gumbel search needs to know of one child of a node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChildView {
    pub action: u8,
    pub prior: f32,
    /// Completed visits.
    pub visits: u32,
    /// Leaves below the child waiting for the network.
    pub pending: u32,
    /// Mean value for the node's mover; meaningful when `visits > 0`.
    pub q: f32,
}

impl ChildView {
    fn scheduled(&self) -> u32 {
        self.visits + self.pending
    }
}

/// Logits below this stand for a zero prior.
const MIN_LOGIT: f32 = -1e9;

fn logit(prior: f32) -> f32 {
    if prior > 0.0 { prior.ln() } else { MIN_LOGIT }
}

/// Writes `sigma(completedQ)` of each child to `out` (same order).
/// `raw_value` is the node's own network value for its mover.
pub fn completed_sigma(
    children: &[ChildView],
    raw_value: f32,
    params: &GumbelParams,
    out: &mut Vec<f32>,
) {
    out.clear();
    let total: u32 = children.iter().map(|c| c.visits).sum();
    let max_visits = children.iter().map(|c| c.visits).max().unwrap_or(0);
    let (mut prior_sum, mut weighted_q) = (0.0f32, 0.0f32);
    for c in children.iter().filter(|c| c.visits > 0) {
        let p = c.prior.max(f32::MIN_POSITIVE);
        prior_sum += p;
        weighted_q += p * c.q;
    }
    let mixed = if total > 0 && prior_sum > 0.0 {
        (raw_value + total as f32 * weighted_q / prior_sum) / (1.0 + total as f32)
    } else {
        raw_value
    };
    out.extend(
        children
            .iter()
            .map(|c| if c.visits > 0 { c.q } else { mixed }),
    );
    let lo = out.iter().cloned().fold(f32::INFINITY, f32::min);
    let hi = out.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let scale = (params.c_visit + max_visits as f32) * params.c_scale / (hi - lo).max(1e-8);
    for v in out.iter_mut() {
        *v = (*v - lo) * scale;
    }
}

/// The improved policy `softmax(logit + sigma(completedQ))` over the
/// children, written to `out` (same order).
pub fn improved_policy(
    children: &[ChildView],
    raw_value: f32,
    params: &GumbelParams,
    out: &mut Vec<f32>,
) {
    completed_sigma(children, raw_value, params, out);
    for (v, c) in out.iter_mut().zip(children) {
        *v += logit(c.prior);
    }
    let max = out.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in out.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in out.iter_mut() {
        *v /= sum;
    }
}

/// The child to descend into below the root: argmax of `pi'(a) - N(a) / (1
/// + sum_b N(b))`, pending leaves counted in N. Ties go to the first child.
pub fn interior_choice(
    children: &[ChildView],
    raw_value: f32,
    params: &GumbelParams,
    scratch: &mut Vec<f32>,
) -> usize {
    improved_policy(children, raw_value, params, scratch);
    let total: u32 = children.iter().map(ChildView::scheduled).sum();
    let inv = 1.0 / (1.0 + total as f32);
    let mut best = 0;
    let mut best_score = f32::NEG_INFINITY;
    for (i, (c, p)) in children.iter().zip(scratch.iter()).enumerate() {
        let score = p - c.scheduled() as f32 * inv;
        if score > best_score {
            best_score = score;
            best = i;
        }
    }
    best
}

/// The root child simulation `sum_b N(b)` visits (pending counted): among
/// the children whose count equals the halving schedule's entry, the argmax
/// of `g + logit + sigma`. `noise[a]` is the Gumbel noise of action `a`,
/// `schedule` is [`halving_sequence`] for this root.
pub fn root_choice(
    children: &[ChildView],
    raw_value: f32,
    noise: &[f32; NUM_ACTIONS],
    schedule: &[u32],
    params: &GumbelParams,
    scratch: &mut Vec<f32>,
) -> usize {
    completed_sigma(children, raw_value, params, scratch);
    let k: u32 = children.iter().map(ChildView::scheduled).sum();
    let target = schedule.get(k as usize).copied();
    let pick = |restrict: bool| {
        let mut best = None;
        let mut best_score = f32::NEG_INFINITY;
        for (i, (c, s)) in children.iter().zip(scratch.iter()).enumerate() {
            if restrict && Some(c.scheduled()) != target {
                continue;
            }
            let score = noise[c.action as usize] + logit(c.prior) + s;
            if best.is_none() || score > best_score {
                best_score = score;
                best = Some(i);
            }
        }
        best
    };
    // Off the schedule (more simulations than planned, or leaves pending
    // out of order): fall back to the unrestricted score.
    pick(true).or_else(|| pick(false)).unwrap_or(0)
}

/// The visit count each root simulation of sequential halving requires of
/// the action it visits (`mctx`'s `get_sequence_of_considered_visits`):
/// `considered` actions (the legal ones, at most m), `budget` simulations
/// after the root's own evaluation. Each phase gives every remaining action
/// `max(1, budget / (ceil(log2 m) * remaining))` visits, then halves the
/// remaining actions (never below two).
pub fn halving_sequence(considered: u32, budget: u32) -> Vec<u32> {
    let budget = budget as usize;
    if considered <= 1 {
        return (0..budget as u32).collect();
    }
    let log2max = (considered as f64).log2().ceil() as usize;
    let mut sequence = Vec::with_capacity(budget + considered as usize);
    let mut visits = vec![0u32; considered as usize];
    let mut remaining = considered as usize;
    while sequence.len() < budget {
        let extra = (budget / (log2max * remaining)).max(1);
        for _ in 0..extra {
            sequence.extend_from_slice(&visits[..remaining]);
            for v in &mut visits[..remaining] {
                *v += 1;
            }
        }
        remaining = (remaining / 2).max(2);
    }
    sequence.truncate(budget);
    sequence
}

/// Gumbel(0, 1) noise times `scale` for each legal action (0 elsewhere and
/// when `scale` is 0, drawing nothing from `rng` then).
pub fn sample_gumbel(rng: &mut Rng, legal: ActionSet, scale: f32) -> [f32; NUM_ACTIONS] {
    let mut noise = [0.0; NUM_ACTIONS];
    if scale > 0.0 {
        for a in legal.iter() {
            let u = rng.unit_f64().max(1e-300);
            noise[a] = scale * (-(-u.ln()).ln()) as f32;
        }
    }
    noise
}

/// One tree's improved policy at the root, indexed by action (0 for
/// illegal actions). All zeros while the root is not expanded (before its
/// first simulation comes back).
pub fn root_improved_policy(tree: &Tree, params: &GumbelParams) -> [f32; NUM_ACTIONS] {
    let mut views = Vec::new();
    let raw = tree.child_views(ROOT, &mut views);
    let mut probs = Vec::new();
    improved_policy(&views, raw, params, &mut probs);
    let mut out = [0.0; NUM_ACTIONS];
    for (c, p) in views.iter().zip(probs) {
        out[c.action as usize] = p;
    }
    out
}

/// The decision of D searched trees sharing the Gumbel vector `noise`:
/// (action, mean improved policy), see the module notes. `None` when no
/// tree has an expanded root.
pub fn decide<'a>(
    trees: impl IntoIterator<Item = &'a Tree>,
    noise: &[f32; NUM_ACTIONS],
    params: &GumbelParams,
) -> Option<(usize, [f32; NUM_ACTIONS])> {
    let mut policy = [0.0f32; NUM_ACTIONS];
    let mut finalists = ActionSet::EMPTY;
    let mut count = 0;
    for tree in trees {
        if tree.children(ROOT).next().is_none() {
            continue;
        }
        count += 1;
        for (acc, p) in policy.iter_mut().zip(root_improved_policy(tree, params)) {
            *acc += p;
        }
        let max = tree.children(ROOT).map(|(_, _, v)| v).max().unwrap_or(0);
        for (a, _, v) in tree.children(ROOT) {
            if v == max {
                finalists.0 |= 1u128 << a;
            }
        }
    }
    if count == 0 {
        return None;
    }
    policy.iter_mut().for_each(|p| *p /= count as f32);
    let mut best = None;
    let mut best_score = f32::NEG_INFINITY;
    for a in finalists.iter() {
        let score = noise[a] + logit(policy[a]);
        if best.is_none() || score > best_score {
            best_score = score;
            best = Some(a);
        }
    }
    best.map(|a| (a, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(action: u8, prior: f32, visits: u32, q: f32) -> ChildView {
        ChildView {
            action,
            prior,
            visits,
            pending: 0,
            q,
        }
    }

    #[test]
    fn halving_matches_mctx() {
        // mctx: get_sequence_of_considered_visits(4, 10) and (16, 20).
        assert_eq!(halving_sequence(4, 10), vec![0, 0, 0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(halving_sequence(2, 6), vec![0, 0, 1, 1, 2, 2]);
        let seq = halving_sequence(16, 20);
        assert_eq!(&seq[..16], &[0; 16]);
        assert_eq!(&seq[16..], &[1, 1, 1, 1]);
        assert_eq!(halving_sequence(1, 3), vec![0, 1, 2]);
        assert_eq!(halving_sequence(8, 0), Vec::<u32>::new());
    }

    #[test]
    fn completed_q_mixes_the_unvisited_and_scales_with_visits() {
        let params = GumbelParams::default();
        let children = [
            view(0, 0.5, 3, 0.8),
            view(1, 0.25, 1, 0.4),
            view(2, 0.25, 0, 0.0),
        ];
        let mut sigma = Vec::new();
        completed_sigma(&children, 0.6, &params, &mut sigma);
        // Mixed value: (0.6 + 4 * (0.5*0.8 + 0.25*0.4) / 0.75) / 5.
        let mixed = (0.6 + 4.0 * (0.5 * 0.8 + 0.25 * 0.4) / 0.75) / 5.0;
        let scale = (50.0 + 3.0) * 0.1;
        let expect = [scale, 0.0, (mixed - 0.4) / 0.4 * scale];
        for (s, e) in sigma.iter().zip(expect) {
            assert!((s - e).abs() < 1e-4, "{sigma:?} vs {expect:?}");
        }
        let mut pi = Vec::new();
        improved_policy(&children, 0.6, &params, &mut pi);
        assert!((pi.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(pi[0] > 0.9, "the best visited action dominates: {pi:?}");
    }

    #[test]
    fn improved_policy_is_the_prior_without_visits() {
        let params = GumbelParams::default();
        let children = [
            view(3, 0.7, 0, 0.0),
            view(9, 0.2, 0, 0.0),
            view(60, 0.1, 0, 0.0),
        ];
        let mut pi = Vec::new();
        improved_policy(&children, 0.3, &params, &mut pi);
        for (p, c) in pi.iter().zip(&children) {
            assert!((p - c.prior).abs() < 1e-6);
        }
    }

    #[test]
    fn interior_rule_goes_where_completed_q_is_highest() {
        let params = GumbelParams::default();
        let mut scratch = Vec::new();
        // Equal priors, nothing visited: the first child.
        let children = [view(0, 0.5, 0, 0.0), view(1, 0.5, 0, 0.0)];
        assert_eq!(interior_choice(&children, 0.5, &params, &mut scratch), 0);
        // Child 0 visited at 0.9: the unvisited one is completed with the
        // mixed value (0.5 + 0.9) / 2 = 0.7 < 0.9, so child 0 again.
        let children = [view(0, 0.5, 1, 0.9), view(1, 0.5, 0, 0.0)];
        assert_eq!(interior_choice(&children, 0.5, &params, &mut scratch), 0);
        // Child 0 visited at 0.1: mixed 0.3 > 0.1, so child 1.
        let children = [view(0, 0.5, 1, 0.1), view(1, 0.5, 0, 0.0)];
        assert_eq!(interior_choice(&children, 0.5, &params, &mut scratch), 1);
        // A pending leaf counts as a visit: equal children, but child 0 has
        // two in flight (without them the tie goes to child 0).
        let mut busy = [view(0, 0.5, 1, 0.8), view(1, 0.5, 1, 0.8)];
        assert_eq!(interior_choice(&busy, 0.5, &params, &mut scratch), 0);
        busy[0].pending = 2;
        assert_eq!(interior_choice(&busy, 0.5, &params, &mut scratch), 1);
    }

    #[test]
    fn interior_visits_track_the_improved_policy() {
        // Small c_scale: pi' stays soft, and the visit shares follow it.
        let params = GumbelParams {
            c_scale: 0.01,
            ..GumbelParams::default()
        };
        let mut children = vec![view(0, 0.5, 1, 0.6), view(1, 0.5, 1, 0.5)];
        let mut scratch = Vec::new();
        for _ in 0..60 {
            let i = interior_choice(&children, 0.55, &params, &mut scratch);
            children[i].visits += 1;
        }
        let mut pi = Vec::new();
        improved_policy(&children, 0.55, &params, &mut pi);
        let share = children[0].visits as f32 / 62.0;
        assert!(pi[0] > 0.6 && pi[0] < 0.8, "{pi:?}");
        assert!((share - pi[0]).abs() < 0.03, "share {share} vs {pi:?}");
    }

    #[test]
    fn root_choice_follows_the_schedule() {
        let params = GumbelParams::default();
        let mut noise = [0.0; NUM_ACTIONS];
        noise[2] = 3.0;
        let children = [
            view(1, 0.5, 0, 0.0),
            view(2, 0.25, 0, 0.0),
            view(3, 0.25, 0, 0.0),
        ];
        let schedule = halving_sequence(3, 9);
        let mut scratch = Vec::new();
        // First visit: the top of g + logit, action 2.
        assert_eq!(
            root_choice(&children, 0.5, &noise, &schedule, &params, &mut scratch),
            1
        );
        // Action 2 visited once: the schedule now wants an unvisited one.
        let children = [
            view(1, 0.5, 0, 0.0),
            view(2, 0.25, 1, 0.1),
            view(3, 0.25, 0, 0.0),
        ];
        assert_eq!(
            root_choice(&children, 0.5, &noise, &schedule, &params, &mut scratch),
            0
        );
    }
}
