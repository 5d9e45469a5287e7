//! Network-valued ISMCTS (`leaf_ismcts`): it waits for one leaf at a time,
//! never peeks at the hidden hands, follows the values it is given, and
//! refuses the wrong rollout.

mod common;

use blob_core::determinize::determinize;
use blob_core::{BID_OFFSET, MAX_PLAYERS, NUM_ACTIONS, Phase, Rng, Round};
use blob_search::heuristic::heuristic_action;
use blob_search::leaf_ismcts::{LeafIsmcts, LeafRequest, search_with_evaluator};
use blob_search::{
    Evaluator, Inference, Information, Ismcts, IsmctsParams, LeafBatch, PlayoutPolicy, Rollout,
    SearchError, SearchParams,
};
use common::{ObservationNet, position};

/// Values the observer's round at 1 when its bid is `bid`, else 0 (and
/// every other seat at 0.5); uniform policy.
struct WantsBid(usize);

impl Evaluator for WantsBid {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        for (i, state) in batch.states.iter().enumerate() {
            let observer = batch.observers[i] as usize;
            policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS].fill(0.0);
            let row = &mut values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS];
            row.fill(0.5);
            row[0] = f32::from(state.bid(observer) == Some(self.0));
        }
    }
}

fn network(iterations: u32) -> IsmctsParams {
    IsmctsParams::new(iterations).with_rollout(Rollout::Network)
}

#[test]
fn the_rollout_must_match_the_search() {
    let r = position(&mut Rng::new(1));
    let seat = r.current_player().unwrap();
    let playouts = IsmctsParams::new(10).with_rollout(Rollout::Heuristic);
    assert!(matches!(
        LeafIsmcts::start(&r, seat, &playouts, Rng::new(1)),
        Err(SearchError::InvalidParam(_))
    ));
    assert!(matches!(
        Ismcts::new().search(&r, seat, &network(10), &mut Rng::new(1)),
        Err(SearchError::InvalidParam(m)) if m.contains("network")
    ));
    assert_eq!(Rollout::from_name("network"), Ok(Rollout::Network));
    // Policy inference needs the network: not with playouts, not in the
    // determinized network search (for now).
    let policy = Inference::from_name("policy", 16, 1.0).unwrap();
    assert!(playouts.clone().with_inference(policy).validate().is_err());
    assert!(network(10).with_inference(policy).validate().is_ok());
    let dxs = SearchParams {
        inference: policy,
        ..SearchParams::light()
    };
    assert!(dxs.validate().is_err());
    assert_eq!(Rollout::Network.name(), "network");
    // Not the seat to move, or a finished round: errors, as for Ismcts.
    let other = (seat + 1) % r.num_players();
    assert!(LeafIsmcts::start(&r, other, &network(10), Rng::new(1)).is_err());
}

#[test]
fn one_leaf_at_a_time_and_every_iteration_backed_up() {
    let mut rng = Rng::new(2);
    for _ in 0..40 {
        let r = position(&mut rng);
        let seat = r.current_player().unwrap();
        let mut search = LeafIsmcts::start(&r, seat, &network(50), Rng::new(3)).unwrap();
        let mut asked = 0;
        loop {
            match search.next_request().unwrap() {
                LeafRequest::Evaluate { state, observer } => {
                    asked += 1;
                    assert_eq!(observer, seat);
                    assert!(!state.is_over());
                    // Asked again before the answer: it waits.
                    assert_eq!(search.next_request().unwrap(), LeafRequest::Waiting);
                    assert!(!search.is_done());
                    let legal = state.legal_actions().len() as usize;
                    search.answer(&vec![1.0 / legal as f32; legal], &[0.5; MAX_PLAYERS]);
                }
                LeafRequest::Waiting => panic!("nothing was outstanding"),
                LeafRequest::Done => break,
            }
        }
        assert!(search.is_done());
        // The root's own evaluation (the prior), then at most one per
        // iteration (leaves in the last trick are valued exactly).
        assert!((1..=51).contains(&asked), "{asked}");
        let out = search.outcome();
        assert_eq!(out.visits.iter().sum::<f32>(), 50.0);
        assert!(
            out.visits
                .iter()
                .enumerate()
                .all(|(a, &v)| v == 0.0 || r.legal_actions().contains(a))
        );
        assert!(out.root_value.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

#[test]
fn a_forced_move_needs_no_network() {
    let mut rng = Rng::new(4);
    let mut r = Round::deal(4, 1, 0, None, &mut rng).unwrap();
    for bid in [0, 0, 0, 0] {
        r.apply_legal(BID_OFFSET + bid);
    }
    let seat = r.current_player().unwrap();
    let mut search = LeafIsmcts::start(&r, seat, &network(10), Rng::new(1)).unwrap();
    assert_eq!(search.next_request().unwrap(), LeafRequest::Done);
    assert!(search.outcome().is_forced());
}

#[test]
fn it_follows_the_values_it_is_given() {
    let mut rng = Rng::new(5);
    for wanted in [0, 1, 2] {
        let r = Round::deal(4, 4, 3, None, &mut rng).unwrap();
        let seat = r.current_player().unwrap();
        let (out, _) =
            search_with_evaluator(&r, seat, &network(200), Rng::new(6), &mut WantsBid(wanted))
                .unwrap();
        assert_eq!(out.best_action(), BID_OFFSET + wanted);
    }
}

/// Reshuffling the cards the searcher cannot see changes nothing: every
/// world is sampled from its information and every leaf is valued from its
/// own view.
#[test]
fn it_never_peeks() {
    let mut rng = Rng::new(7);
    let (mut checked, mut peeked) = (0, 0);
    for i in 0..60 {
        let r = position(&mut rng);
        let seat = r.current_player().unwrap();
        let other = determinize(&r, seat, &mut rng).unwrap();
        if other == r {
            continue;
        }
        let mut params = network(120).with_prior_weight(if i % 2 == 0 { 1.0 } else { 0.0 });
        if i % 3 == 0 {
            // Policy inference asks about the opponents' bids in sampled
            // worlds only.
            params.inference = Inference::Policy {
                candidates: 8,
                temperature: 1.0,
            };
        }
        let search = |round: &Round, params: &IsmctsParams| {
            search_with_evaluator(round, seat, params, Rng::new(8), &mut ObservationNet).unwrap()
        };
        assert_eq!(search(&r, &params), search(&other, &params), "position {i}");
        // The check can fail: a search of the true deal (perfect
        // information) sees the reshuffle.
        let mut cheat = params.clone();
        cheat.information = Information::Perfect;
        peeked += usize::from(search(&r, &cheat) != search(&other, &cheat));
        checked += 1;
    }
    assert!(checked > 30);
    assert!(peeked * 2 > checked, "{peeked} of {checked}");
}

/// `playout_weight` 1 values every leaf by the heuristic playout in the
/// iteration's world alone: with no root prior that is ISMCTS with heuristic
/// playouts, visit for visit (so the playout is played in the sampled world,
/// its values by absolute seat). Out-of-range weights, and a weight with
/// playouts instead of network leaves, are errors.
#[test]
fn playout_weight_one_is_ismcts_with_heuristic_playouts() {
    let mut rng = Rng::new(17);
    for _ in 0..12 {
        let r = position(&mut rng);
        let seat = r.current_player().unwrap();
        let blended = network(150).with_prior_weight(0.0).with_playout_weight(1.0);
        let (all_playout, _) =
            search_with_evaluator(&r, seat, &blended, Rng::new(5), &mut ObservationNet).unwrap();
        let heuristic = IsmctsParams::new(150).with_rollout(Rollout::Heuristic);
        let plain = Ismcts::new()
            .search(&r, seat, &heuristic, &mut Rng::new(5))
            .unwrap();
        assert_eq!(all_playout.visits, plain.visits);
        assert_eq!(all_playout.root_value, plain.root_value);
        // The network alone searches differently.
        let (network_only, _) = search_with_evaluator(
            &r,
            seat,
            &blended.clone().with_playout_weight(0.0),
            Rng::new(5),
            &mut ObservationNet,
        )
        .unwrap();
        assert_ne!(network_only.root_value, plain.root_value);
    }
    for bad in [-0.1, 1.5, f32::NAN] {
        assert!(network(10).with_playout_weight(bad).validate().is_err());
    }
    let playouts = IsmctsParams::new(10)
        .with_rollout(Rollout::Heuristic)
        .with_playout_weight(0.5);
    assert!(
        matches!(playouts.validate(), Err(SearchError::InvalidParam(m)) if m.contains("network"))
    );
}

/// A network whose policy is the heuristic's move for the seat it is asked
/// about (read from the state it is given), its values a constant.
struct PlaysHeuristic {
    asked: Vec<(Round, usize)>,
}

impl Evaluator for PlaysHeuristic {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        for (i, state) in batch.states.iter().enumerate() {
            let row = &mut policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS];
            row.fill(0.0);
            row[heuristic_action(state)] = 8.0;
            values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS].fill(0.25);
            self.asked.push((*state, batch.observers[i] as usize));
        }
    }
}

/// With the network playing the playouts (`PlayoutPolicy::Network`) and
/// `playout_weight` 1, a network that moves as the heuristic does gives
/// ISMCTS with heuristic playouts visit for visit: the playout is played in
/// the iteration's world, every move the mover's own choice, and the values
/// are the world's result by absolute seat. Every playout question is
/// asked from the seat to move; none is asked in the last trick.
#[test]
fn network_playouts_follow_the_networks_moves_in_the_sampled_world() {
    let mut rng = Rng::new(23);
    for _ in 0..12 {
        let r = position(&mut rng);
        let seat = r.current_player().unwrap();
        let params = network(120)
            .with_prior_weight(0.0)
            .with_playout_weight(1.0)
            .with_playout_policy(PlayoutPolicy::Network);
        let mut net = PlaysHeuristic { asked: Vec::new() };
        let (played, _) = search_with_evaluator(&r, seat, &params, Rng::new(5), &mut net).unwrap();
        let heuristic = IsmctsParams::new(120).with_rollout(Rollout::Heuristic);
        let plain = Ismcts::new()
            .search(&r, seat, &heuristic, &mut Rng::new(5))
            .unwrap();
        assert_eq!(played.visits, plain.visits);
        assert_eq!(played.root_value, plain.root_value);
        for (state, observer) in &net.asked {
            assert_eq!(state.current_player(), Some(*observer));
            assert!(state.legal_actions().len() >= 2);
            assert!(state.tricks_done() + 1 < state.cards() || state.phase() == Phase::Bid);
        }
    }
}

/// Below weight 1 the network's value of the leaf (from the observer's
/// view) is blended in: `λ * playout + (1 - λ) * network`. With one
/// iteration per root action every iteration expands a new root child, so
/// the values do not steer the tree and both weights play the same
/// playouts: the root's mean values must be exactly the blend.
#[test]
fn a_network_playout_below_weight_one_blends_in_the_leaf_value() {
    let mut rng = Rng::new(29);
    for _ in 0..12 {
        let r = position(&mut rng);
        let seat = r.current_player().unwrap();
        let iterations = r.legal_actions().len();
        let search = |weight: f32| {
            let params = network(iterations)
                .with_prior_weight(0.0)
                .with_playout_weight(weight)
                .with_playout_policy(PlayoutPolicy::Network);
            let mut net = PlaysHeuristic { asked: Vec::new() };
            let (outcome, _) =
                search_with_evaluator(&r, seat, &params, Rng::new(3), &mut net).unwrap();
            (outcome, net.asked)
        };
        let (playout, playout_asked) = search(1.0);
        let (blend, blend_asked) = search(0.25);
        assert_eq!(blend.visits, playout.visits);
        for k in 0..r.num_players() {
            let want = 0.25 * playout.root_value[k] + 0.75 * 0.25;
            assert!((blend.root_value[k] - want).abs() < 1e-5, "{k}: {blend:?}");
        }
        // The extra questions are the leaves, from the searching seat.
        let extra = blend_asked.len() - playout_asked.len();
        assert!(extra <= iterations as usize);
        let from_seat = |asked: &[(Round, usize)]| asked.iter().filter(|q| q.1 == seat).count();
        assert_eq!(from_seat(&blend_asked), from_seat(&playout_asked) + extra);
    }
    // A network playout policy needs a weight to blend with.
    let unweighted = network(10).with_playout_policy(PlayoutPolicy::Network);
    assert!(
        matches!(unweighted.validate(), Err(SearchError::InvalidParam(m)) if m.contains("playout_weight"))
    );
    assert_eq!(
        PlayoutPolicy::from_name("network"),
        Ok(PlayoutPolicy::Network)
    );
    assert!(PlayoutPolicy::from_name("greedy").is_err());
}
