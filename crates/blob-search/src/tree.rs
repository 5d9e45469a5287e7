//! One search tree over one determinized state: arena nodes, PUCT selection
//! with per-seat values, virtual loss, expansion and backup.
//!
//! Nodes and edges live in two vectors (index links, children as contiguous
//! edge ranges); `reset` keeps their capacity, so a tree reused across moves
//! and rounds stops allocating after warm-up. A tree is owned by one worker
//! thread, so nothing here is atomic: parallelism comes from many trees.
//!
//! Values are vectors indexed by absolute seat, each a round score scaled to
//! [0, 1]. The seat to move at a node maximizes its own entry. Virtual loss
//! counts each pending leaf below a child as `virtual_loss` visits of value 0
//! (the worst value) for the seat choosing that child, never as a negation.

use blob_core::{ActionSet, MAX_PLAYERS, NUM_ACTIONS, Round};

use crate::gumbel::{self, ChildView, halving_sequence};
use crate::params::{GumbelParams, SearchParams};
use blob_core::Rng;

/// Marks an edge whose child node has not been created yet.
pub const NO_NODE: u32 = u32::MAX;
/// Index of the root node.
pub const ROOT: u32 = 0;

/// Per-seat value vector, by absolute seat.
pub type Values = [f32; MAX_PLAYERS];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Created, not evaluated yet.
    Fresh,
    /// Waiting for the network.
    Pending,
    /// Has edges with priors.
    Expanded,
    /// The round is over here; its value is exact.
    Terminal,
}

#[derive(Clone, Debug)]
struct Node {
    parent: u32,
    first_edge: u32,
    num_edges: u32,
    visits: u32,
    /// Leaves below (or at) this node waiting for the network.
    pending: u32,
    to_move: u8,
    status: NodeStatus,
    /// Legal actions at this node, kept until expansion creates the edges.
    legal: ActionSet,
    value_sum: Values,
}

impl Node {
    fn new(parent: u32, state: &Round) -> Node {
        Node {
            parent,
            first_edge: 0,
            num_edges: 0,
            visits: 0,
            pending: 0,
            to_move: state.current_player().unwrap_or(0) as u8,
            status: if state.is_over() {
                NodeStatus::Terminal
            } else {
                NodeStatus::Fresh
            },
            legal: state.legal_actions(),
            value_sum: [0.0; MAX_PLAYERS],
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    action: u8,
    prior: f32,
    child: u32,
}

/// What one selection step produced.
#[derive(Clone, Debug)]
pub enum Selection {
    /// A leaf that needs the network; virtual loss is now on its path. The
    /// state is the leaf's, with the acting player to move.
    Leaf { node: u32, state: Round },
    /// Reached the end of the round; the exact value is already backed up.
    Terminal,
    /// Walked into a leaf already waiting for the network; nothing changed.
    Collision,
}

/// Plays every forced move (a single legal action) so that tree nodes only
/// stand where a real choice exists or where the round is over. This also
/// resolves the fully determined last trick.
#[inline]
pub fn advance_forced(state: &mut Round) {
    loop {
        let legal = state.legal_actions();
        if legal.len() != 1 {
            return;
        }
        state.apply_legal(legal.0.trailing_zeros() as usize);
    }
}

/// The exact value vector of a finished round, by absolute seat.
#[inline]
pub fn terminal_values(state: &Round) -> Values {
    state.values_from(0)
}

/// Turns a value vector relative to `seat` (entry 0 = `seat`, then
/// clockwise) into one by absolute seat.
#[inline]
pub fn absolute_values(relative: &[f32], seat: usize, players: usize) -> Values {
    let mut out = [0.0; MAX_PLAYERS];
    for k in 0..players {
        out[(seat + k) % players] = relative[k];
    }
    out
}

/// Softmax of `logits` over the actions of `legal`, written as (action,
/// prior) pairs in increasing action order. Non-finite or huge logits are
/// handled by the max-shift; an all -inf row falls back to uniform.
pub fn masked_softmax(logits: &[f32], legal: ActionSet, out: &mut Vec<(u8, f32)>) {
    out.clear();
    let mut max = f32::NEG_INFINITY;
    for a in legal.iter() {
        max = max.max(logits[a]);
    }
    let mut sum = 0.0;
    for a in legal.iter() {
        let p = if max.is_finite() {
            (logits[a] - max).exp()
        } else {
            1.0
        };
        sum += p;
        out.push((a as u8, p));
    }
    let inv = if sum > 0.0 && sum.is_finite() {
        1.0 / sum
    } else {
        0.0
    };
    let uniform = 1.0 / out.len().max(1) as f32;
    for (_, p) in out.iter_mut() {
        *p = if inv > 0.0 { *p * inv } else { uniform };
    }
}

/// The least and greatest mean value one seat's choices have met in a
/// tree, for min-max normalised Q.
#[derive(Clone, Copy, Debug, PartialEq)]
struct MinMax {
    lo: f32,
    hi: f32,
}

impl MinMax {
    const EMPTY: MinMax = MinMax {
        lo: f32::INFINITY,
        hi: f32::NEG_INFINITY,
    };
    fn update(&mut self, v: f32) {
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }
    /// `v` mapped to [0, 1]; 0.5 until two different values were seen.
    fn normalize(&self, v: f32) -> f32 {
        if self.hi > self.lo {
            ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
        } else {
            0.5
        }
    }
}

/// A search tree.
#[derive(Clone, Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    root_state: Round,
    scratch: Vec<(u8, f32)>,
    /// Per seat, the range of the mean values of nodes chosen by that seat
    /// (kept only while `track_minmax`, i.e. with `normalize_q`).
    minmax: [MinMax; MAX_PLAYERS],
    track_minmax: bool,
    /// Gumbel noise of the root actions, for Gumbel search.
    root_gumbel: [f32; NUM_ACTIONS],
    /// Sequential halving schedule cached for (considered, budget).
    halving: (u32, u32, Vec<u32>),
    views: Vec<ChildView>,
    gumbel_scratch: Vec<f32>,
}

impl Tree {
    pub fn new(root_state: Round) -> Tree {
        let mut tree = Tree {
            nodes: Vec::with_capacity(64),
            edges: Vec::with_capacity(256),
            root_state,
            scratch: Vec::with_capacity(NUM_ACTIONS),
            minmax: [MinMax::EMPTY; MAX_PLAYERS],
            track_minmax: false,
            root_gumbel: [0.0; NUM_ACTIONS],
            halving: (0, 0, Vec::new()),
            views: Vec::with_capacity(NUM_ACTIONS),
            gumbel_scratch: Vec::with_capacity(NUM_ACTIONS),
        };
        tree.reset(root_state);
        tree
    }

    /// Starts over from a new root, keeping the allocated memory.
    pub fn reset(&mut self, mut root_state: Round) {
        advance_forced(&mut root_state);
        self.nodes.clear();
        self.edges.clear();
        self.nodes.push(Node::new(NO_NODE, &root_state));
        self.root_state = root_state;
        self.minmax = [MinMax::EMPTY; MAX_PLAYERS];
        self.track_minmax = false;
        self.root_gumbel = [0.0; NUM_ACTIONS];
    }

    /// Sets the Gumbel noise of the root actions (indexed by action) that
    /// Gumbel search adds to the root logits; [`Tree::reset`] zeroes it.
    /// Trees of one decision share one vector, see [`crate::gumbel`].
    pub fn set_root_gumbel(&mut self, noise: &[f32; NUM_ACTIONS]) {
        self.root_gumbel = *noise;
    }

    /// The children of `node` as Gumbel search sees them (written to
    /// `out`), and the node's own network value for its mover: its value
    /// sum less its children's, since every later visit went through a
    /// child.
    pub fn child_views(&self, node: u32, out: &mut Vec<ChildView>) -> f32 {
        out.clear();
        let n = &self.nodes[node as usize];
        let seat = n.to_move as usize;
        let mut raw = n.value_sum[seat];
        let first = n.first_edge as usize;
        for e in &self.edges[first..first + n.num_edges as usize] {
            let (visits, pending, sum) = if e.child == NO_NODE {
                (0, 0, 0.0)
            } else {
                let c = &self.nodes[e.child as usize];
                (c.visits, c.pending, c.value_sum[seat])
            };
            raw -= sum;
            out.push(ChildView {
                action: e.action,
                prior: e.prior,
                visits,
                pending,
                q: if visits > 0 { sum / visits as f32 } else { 0.0 },
            });
        }
        raw
    }

    pub fn root_state(&self) -> &Round {
        &self.root_state
    }
    /// The seat whose decision this tree searches (the root's mover): every
    /// leaf is evaluated from its observation, and the value vectors given
    /// to [`Tree::expand`] are relative to it.
    pub fn observer(&self) -> usize {
        self.root_state.current_player().unwrap_or(0)
    }
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }
    /// Visits of the root: the simulations completed in this tree.
    pub fn root_visits(&self) -> u32 {
        self.nodes[ROOT as usize].visits
    }
    /// Leaves waiting for the network in this tree.
    pub fn pending(&self) -> u32 {
        self.nodes[ROOT as usize].pending
    }
    /// Mean value vector at the root, by absolute seat.
    pub fn root_value(&self) -> Values {
        self.mean_value(ROOT)
    }
    /// Visits and pending counts summed over every node, for invariant
    /// checks: (sum of pending, max depth-first mismatch) — see tests.
    pub fn total_pending(&self) -> u64 {
        self.nodes.iter().map(|n| n.pending as u64).sum()
    }
    pub fn status(&self, node: u32) -> NodeStatus {
        self.nodes[node as usize].status
    }
    pub fn visits(&self, node: u32) -> u32 {
        self.nodes[node as usize].visits
    }
    pub fn mean_value(&self, node: u32) -> Values {
        let n = &self.nodes[node as usize];
        let mut out = n.value_sum;
        if n.visits > 0 {
            let inv = 1.0 / n.visits as f32;
            out.iter_mut().for_each(|v| *v *= inv);
        }
        out
    }
    /// Children of a node as (action, prior, child visits).
    pub fn children(&self, node: u32) -> impl Iterator<Item = (usize, f32, u32)> + '_ {
        let n = &self.nodes[node as usize];
        self.edges[n.first_edge as usize..(n.first_edge + n.num_edges) as usize]
            .iter()
            .map(|e| {
                let visits = if e.child == NO_NODE {
                    0
                } else {
                    self.nodes[e.child as usize].visits
                };
                (e.action as usize, e.prior, visits)
            })
    }
    /// Adds each root child's visit count to `counts` (indexed by action).
    pub fn add_root_visits(&self, counts: &mut [f32; NUM_ACTIONS]) {
        for (a, _, v) in self.children(ROOT) {
            counts[a] += v as f32;
        }
    }

    /// Adds each root child's prior (after any root noise) to `priors`
    /// (indexed by action): the tie-break of a greedy choice.
    pub fn add_root_priors(&self, priors: &mut [f32; NUM_ACTIONS]) {
        for (a, p, _) in self.children(ROOT) {
            priors[a] += p;
        }
    }

    /// Walks from the root to a leaf with PUCT (or Gumbel search when
    /// `params.gumbel` is set). A fresh leaf is marked pending with virtual
    /// loss on its path; a terminal is backed up at once.
    pub fn select(&mut self, params: &SearchParams) -> Selection {
        self.track_minmax = params.normalize_q;
        let mut state = self.root_state;
        let mut node = ROOT;
        loop {
            match self.nodes[node as usize].status {
                NodeStatus::Fresh => {
                    self.nodes[node as usize].status = NodeStatus::Pending;
                    self.add_pending(node);
                    return Selection::Leaf { node, state };
                }
                NodeStatus::Pending => return Selection::Collision,
                NodeStatus::Terminal => {
                    self.backup(node, &terminal_values(&state), false);
                    return Selection::Terminal;
                }
                NodeStatus::Expanded => {
                    let edge = match &params.gumbel {
                        Some(g) => self.select_edge_gumbel(node, params.simulations, g),
                        None => self.select_edge(node, params),
                    };
                    let action = self.edges[edge].action as usize;
                    state.apply_legal(action);
                    advance_forced(&mut state);
                    let mut child = self.edges[edge].child;
                    if child == NO_NODE {
                        child = self.nodes.len() as u32;
                        self.nodes.push(Node::new(node, &state));
                        self.edges[edge].child = child;
                    }
                    node = child;
                }
            }
        }
    }

    fn select_edge(&self, node: u32, params: &SearchParams) -> usize {
        let n = &self.nodes[node as usize];
        let seat = n.to_move as usize;
        let vl = params.virtual_loss;
        let parent_n = n.visits as f32 + vl * n.pending as f32;
        let sqrt_n = parent_n.max(1.0).sqrt();
        let parent_q = if n.visits > 0 {
            n.value_sum[seat] / n.visits as f32
        } else {
            0.5
        };
        let norm = params.normalize_q.then_some(self.minmax[seat]);
        let fpu = match norm {
            None => (parent_q - params.fpu_reduction).max(0.0),
            Some(m) => {
                let q = if n.visits > 0 {
                    m.normalize(parent_q)
                } else {
                    0.5
                };
                (q - params.fpu_reduction).max(0.0)
            }
        };
        let first = n.first_edge as usize;
        let mut best = first;
        let mut best_score = f32::NEG_INFINITY;
        for (i, e) in self.edges[first..first + n.num_edges as usize]
            .iter()
            .enumerate()
        {
            let (child_n, q) = if e.child == NO_NODE {
                (0.0, fpu)
            } else {
                let c = &self.nodes[e.child as usize];
                let cn = c.visits as f32 + vl * c.pending as f32;
                let q = match norm {
                    _ if cn <= 0.0 => fpu,
                    None => c.value_sum[seat] / cn,
                    // Pending visits count as the worst value, 0, in the
                    // normalised scale too.
                    Some(_) if c.visits == 0 => 0.0,
                    Some(m) => {
                        m.normalize(c.value_sum[seat] / c.visits as f32) * c.visits as f32 / cn
                    }
                };
                (cn, q)
            };
            let score = q + params.c_puct * e.prior * sqrt_n / (1.0 + child_n);
            if score > best_score {
                best_score = score;
                best = first + i;
            }
        }
        best
    }

    fn select_edge_gumbel(&mut self, node: u32, simulations: u32, params: &GumbelParams) -> usize {
        let mut views = std::mem::take(&mut self.views);
        let mut scratch = std::mem::take(&mut self.gumbel_scratch);
        let raw = self.child_views(node, &mut views);
        let choice = if node == ROOT {
            let considered = params.considered_actions.min(views.len() as u32);
            let budget = simulations.saturating_sub(1);
            if (self.halving.0, self.halving.1) != (considered, budget) {
                self.halving = (considered, budget, halving_sequence(considered, budget));
            }
            gumbel::root_choice(
                &views,
                raw,
                &self.root_gumbel,
                &self.halving.2,
                params,
                &mut scratch,
            )
        } else {
            gumbel::interior_choice(&views, raw, params, &mut scratch)
        };
        self.views = views;
        self.gumbel_scratch = scratch;
        self.nodes[node as usize].first_edge as usize + choice
    }

    fn add_pending(&mut self, mut node: u32) {
        while node != NO_NODE {
            let n = &mut self.nodes[node as usize];
            n.pending += 1;
            node = n.parent;
        }
    }

    /// Adds one visit with `values` (by absolute seat) to `node` and every
    /// ancestor; `was_pending` also removes the virtual loss of that leaf.
    fn backup(&mut self, mut node: u32, values: &Values, was_pending: bool) {
        while node != NO_NODE {
            let n = &mut self.nodes[node as usize];
            n.visits += 1;
            if was_pending {
                debug_assert!(n.pending > 0);
                n.pending -= 1;
            }
            for (sum, v) in n.value_sum.iter_mut().zip(values) {
                *sum += v;
            }
            let parent = n.parent;
            if self.track_minmax && parent != NO_NODE {
                let seat = self.nodes[parent as usize].to_move as usize;
                let n = &self.nodes[node as usize];
                self.minmax[seat].update(n.value_sum[seat] / n.visits as f32);
            }
            node = parent;
        }
    }

    /// Gives a pending leaf its network answer: edges get the masked softmax
    /// of `logits` (66 entries) as priors, and `relative_value` (entry 0 =
    /// the tree's observer, see [`Tree::observer`]) is backed up. Removes the leaf's virtual loss.
    pub fn expand(&mut self, node: u32, logits: &[f32], relative_value: &[f32]) {
        let players = self.root_state.num_players();
        let n = &self.nodes[node as usize];
        debug_assert_eq!(n.status, NodeStatus::Pending);
        let seat = self.observer();
        let mut scratch = std::mem::take(&mut self.scratch);
        masked_softmax(logits, n.legal, &mut scratch);
        self.set_edges(node, &scratch);
        self.scratch = scratch;
        let values = absolute_values(relative_value, seat, players);
        self.backup(node, &values, true);
    }

    /// Like [`Tree::expand`] with priors already normalized over the legal
    /// actions, in increasing action order (as cached answers store them).
    pub fn expand_with_priors(&mut self, node: u32, priors: &[f32], relative_value: &[f32]) {
        let players = self.root_state.num_players();
        let n = &self.nodes[node as usize];
        let seat = self.observer();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(n.legal.iter().zip(priors).map(|(a, &p)| (a as u8, p)));
        self.set_edges(node, &scratch);
        self.scratch = scratch;
        let values = absolute_values(relative_value, seat, players);
        self.backup(node, &values, true);
    }

    fn set_edges(&mut self, node: u32, priors: &[(u8, f32)]) {
        let first = self.edges.len() as u32;
        self.edges
            .extend(priors.iter().map(|&(action, prior)| Edge {
                action,
                prior,
                child: NO_NODE,
            }));
        let n = &mut self.nodes[node as usize];
        n.first_edge = first;
        n.num_edges = priors.len() as u32;
        n.status = NodeStatus::Expanded;
    }

    /// Legal actions at a node (fixed once created).
    pub fn legal(&self, node: u32) -> ActionSet {
        self.nodes[node as usize].legal
    }
    /// Seat to move at a node.
    pub fn to_move(&self, node: u32) -> usize {
        self.nodes[node as usize].to_move as usize
    }

    /// Mixes Dirichlet(alpha) noise into the root priors with weight
    /// `fraction` (self-play exploration). Call once the root is expanded.
    pub fn add_root_noise(&mut self, rng: &mut Rng, alpha: f32, fraction: f32) {
        let root = &self.nodes[ROOT as usize];
        if fraction <= 0.0 || root.status != NodeStatus::Expanded || root.num_edges < 2 {
            return;
        }
        let range = root.first_edge as usize..(root.first_edge + root.num_edges) as usize;
        let mut noise = [0.0f64; NUM_ACTIONS];
        let mut sum = 0.0;
        for n in noise.iter_mut().take(range.len()) {
            *n = rng.gamma(alpha as f64);
            sum += *n;
        }
        if sum <= 0.0 {
            return;
        }
        for (e, n) in self.edges[range].iter_mut().zip(noise) {
            e.prior = (1.0 - fraction) * e.prior + fraction * (n / sum) as f32;
        }
    }
}
