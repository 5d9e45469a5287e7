//! The arena engine: every round of the schedule is played once, a round's
//! course depends only on the agents (never on threads or timing), and a
//! network agent decides exactly as a one-position search with the same
//! seed and evaluator does.

mod common;

use common::{ObservationNet, logits_of};

use blob_core::rng::mix_seed;
use blob_core::{BID_OFFSET, Phase, Rng, Round, Suit};
use blob_search::driver::arena::{
    ArenaConfig, ArenaEngine, ArenaRound, SeatAgent, decision_seed, serve_arena,
};
use blob_search::heuristic::heuristic_action;
use blob_search::leaf_ismcts::search_with_evaluator;
use blob_search::params::GumbelParams;
use blob_search::{
    Evaluator, Information, Ismcts, IsmctsParams, Rollout, SearchError, SearchParams, Searcher,
    most_visited,
};

/// The stand-in network's policy for the mover's own view of `round`.
fn observation_prior(round: &Round) -> [f32; blob_core::NUM_ACTIONS] {
    use blob_core::observation::{OBS_SIZE, encode_observation};
    let seat = round.current_player().unwrap();
    let mut obs = [0.0f32; OBS_SIZE];
    encode_observation(round, seat, None, &mut obs);
    let bits: Vec<u64> = obs.iter().map(|x| x.to_bits() as u64).collect();
    let mut pairs = Vec::new();
    blob_search::tree::masked_softmax(
        &logits_of(mix_seed(&bits)),
        round.legal_actions(),
        &mut pairs,
    );
    let mut prior = [0.0f32; blob_core::NUM_ACTIONS];
    for (a, p) in pairs {
        prior[a as usize] = p;
    }
    prior
}

fn deals(n: u64, players: usize, cards: usize) -> Vec<Round> {
    (0..n)
        .map(|d| {
            let mut rng = Rng::new(1000 + d);
            let dealer = rng.below(players as u32) as usize;
            let trump = Suit::from_index(rng.below(5) as u8).ok();
            Round::deal(players, cards, dealer, trump, &mut rng).unwrap()
        })
        .collect()
}

fn rotations(players: usize, agents: usize) -> Vec<Vec<usize>> {
    (0..players)
        .map(|r| (0..players).map(|s| (s + r) % players % agents).collect())
        .collect()
}

fn light() -> SearchParams {
    SearchParams::preset(2, 12).for_play()
}

fn config(threads: usize, agents: Vec<SeatAgent>, networks: usize) -> ArenaConfig {
    ArenaConfig {
        threads,
        games_per_thread: 5,
        max_batch: 64,
        pipeline_depth: 3,
        cache_entries: 1024,
        networks,
        deals: deals(4, 4, 4),
        seatings: rotations(4, agents.len()),
        agents,
        record: None,
    }
}

/// Plays the whole schedule, each network answered by the heuristic
/// evaluator (deterministic), and returns the rounds in schedule order.
fn play(config: ArenaConfig) -> Vec<Round> {
    let (total, networks) = (config.rounds(), config.networks);
    let engine = ArenaEngine::start(config).unwrap();
    let mut evaluators: Vec<ObservationNet> = (0..networks).map(|_| ObservationNet).collect();
    let mut refs: Vec<&mut dyn Evaluator> = evaluators
        .iter_mut()
        .map(|e| e as &mut dyn Evaluator)
        .collect();
    serve_arena(&engine, &mut refs, 64).unwrap();
    let mut results: Vec<ArenaRound> = engine.take_results().unwrap();
    results.sort_by_key(|r| r.index);
    let indices: Vec<u64> = results.iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..total).collect::<Vec<_>>(), "each round once");
    assert!(results.iter().all(|r| r.end.is_over()));
    results.into_iter().map(|r| r.end).collect()
}

fn mixed_agents() -> Vec<SeatAgent> {
    vec![
        SeatAgent::Network {
            net: 0,
            params: light(),
            seed: 11,
        },
        SeatAgent::Network {
            net: 1,
            params: SearchParams::preset(1, 8).for_play(),
            seed: 12,
        },
        SeatAgent::Heuristic,
        SeatAgent::Random { seed: 13 },
    ]
}

#[test]
fn same_rounds_whatever_the_threads() {
    let one = play(config(1, mixed_agents(), 2));
    let two = play(config(2, mixed_agents(), 2));
    assert_eq!(one, two);
    // The agents do differ: not every seat of every round bids alike.
    assert!(one.iter().any(|r| r.bids() != one[0].bids()));
}

/// Replays each round move by move with one-position searches: the
/// network agent's moves must be those of `Searcher::search` seeded with
/// the decision seed, the heuristic's those of `heuristic_action`.
#[test]
fn network_agent_plays_as_a_single_search() {
    replay_against_single_searches(light());
}

/// The same with Gumbel search (played without noise): the engine plays
/// the Gumbel decision, as `SearchOutcome::gumbel_action` has it.
#[test]
fn gumbel_network_agent_plays_as_a_single_search() {
    let mut params = SearchParams::preset(2, 12);
    params.gumbel = Some(GumbelParams::default());
    params.normalize_q = true;
    replay_against_single_searches(params.for_play());
}

fn replay_against_single_searches(params: SearchParams) {
    let agent = SeatAgent::Network {
        net: 0,
        params: params.clone(),
        seed: 21,
    };
    let searched = replay_against(agent, |round, _seat| {
        let outcome = Searcher::new().search(
            round,
            &params,
            Information::Imperfect,
            None,
            &mut ObservationNet,
            &mut Rng::new(decision_seed(21, round)),
        );
        // Gumbel's choice, or the most visited action with ties to the
        // higher root prior.
        outcome.best_action()
    });
    assert!(searched > 20);
}

/// Plays `agent` against the heuristic in the engine (network 0 the
/// stand-in net), then replays each round move by move: the heuristic's
/// moves must be `heuristic_action`'s and the agent's those of
/// `expected(round, seat)` at each of its decisions with two or more legal
/// actions. Returns how many such decisions were checked.
fn replay_against(agent: SeatAgent, mut expected: impl FnMut(&Round, usize) -> usize) -> usize {
    let cfg = config(2, vec![agent, SeatAgent::Heuristic], 1);
    let (starts, seatings) = (cfg.deals.clone(), cfg.seatings.clone());
    let ends = play(cfg);
    let mut searched = 0;
    for (i, end) in ends.iter().enumerate() {
        let seating = &seatings[i % seatings.len()];
        let mut round = starts[i / seatings.len()];
        let plays = end.plays();
        let mut cards = plays.iter();
        while let Some(seat) = round.current_player() {
            let legal = round.legal_actions();
            let wanted = if legal.len() == 1 {
                legal.0.trailing_zeros() as usize
            } else if seating[seat] == 1 {
                heuristic_action(&round)
            } else {
                searched += 1;
                expected(&round, seat)
            };
            let played = if round.phase() == Phase::Bid {
                BID_OFFSET + end.bid(seat).unwrap()
            } else {
                let (by, card) = cards.next().unwrap();
                assert_eq!(*by, seat);
                card.index() as usize
            };
            assert_eq!(played, wanted, "round {i}, seat {seat}");
            round.apply(played).unwrap();
        }
        assert_eq!(&round, end);
    }
    searched
}

/// A guided ISMCTS agent plays as one `Ismcts::search_with_prior` with the
/// network's policy for the mover's view, seeded with the decision seed.
#[test]
fn guided_ismcts_agent_plays_as_a_single_search_with_the_network_prior() {
    let params = IsmctsParams::new(120).with_prior_weight(2.0);
    let agent = SeatAgent::GuidedIsmcts {
        net: 0,
        params: params.clone(),
        seed: 31,
    };
    let mut differs_from_plain = 0;
    let searched = replay_against(agent, |round, seat| {
        let rng = || Rng::new(decision_seed(31, round));
        let prior = observation_prior(round);
        let guided = Ismcts::new()
            .search_with_prior(round, seat, &params, Some(&prior), &mut rng())
            .unwrap();
        let plain = Ismcts::new()
            .search(round, seat, &params, &mut rng())
            .unwrap();
        differs_from_plain += usize::from(guided.visits != plain.visits);
        // Ties in the visits go to the higher network prior.
        most_visited(&guided.visits, &prior)
    });
    assert!(searched > 20);
    // The prior did steer the searches.
    assert!(
        differs_from_plain * 2 > searched,
        "{differs_from_plain} of {searched}"
    );
}

/// With network leaves, a guided ISMCTS agent plays as one
/// `leaf_ismcts::search_with_evaluator` with the same network: the engine's
/// batching across rounds changes nothing but the speed.
#[test]
fn network_valued_ismcts_agent_plays_as_a_single_search() {
    let params = IsmctsParams::new(60).with_rollout(Rollout::Network);
    for weight in [1.0, 0.0] {
        let params = params.clone().with_prior_weight(weight);
        let agent = SeatAgent::GuidedIsmcts {
            net: 0,
            params: params.clone(),
            seed: 41,
        };
        let mut differs_from_playouts = 0;
        let searched = replay_against(agent, |round, seat| {
            let rng = Rng::new(decision_seed(41, round));
            let (outcome, prior) =
                search_with_evaluator(round, seat, &params, rng, &mut ObservationNet).unwrap();
            let playouts = Ismcts::new()
                .search(
                    round,
                    seat,
                    &params.clone().with_rollout(Rollout::Heuristic),
                    &mut Rng::new(decision_seed(41, round)),
                )
                .unwrap();
            differs_from_playouts += usize::from(outcome.visits != playouts.visits);
            assert_eq!(outcome.visits.iter().sum::<f32>(), 60.0);
            most_visited(&outcome.visits, &prior)
        });
        assert!(searched > 20);
        // The network's values, not playouts, steered the searches.
        assert!(
            differs_from_playouts * 2 > searched,
            "{differs_from_playouts} of {searched}"
        );
    }
}

#[test]
fn bad_configs_are_errors() {
    let mut cfg = config(1, mixed_agents(), 1);
    assert!(matches!(
        ArenaEngine::start(cfg.clone()),
        Err(SearchError::InvalidConfig(m)) if m.contains("network 1")
    ));
    cfg.networks = 2;
    cfg.seatings[0][0] = 9;
    assert!(matches!(
        ArenaEngine::start(cfg.clone()),
        Err(SearchError::InvalidConfig(m)) if m.contains("agent 9")
    ));
    cfg.seatings = rotations(4, 4);
    cfg.deals.push(deals(1, 3, 4)[0]);
    assert!(ArenaEngine::start(cfg.clone()).is_err());
    cfg.deals.clear();
    assert!(ArenaEngine::start(cfg).is_err());
}
