//! The fleet watch against fake daemons on loopback whose chains change on demand: a fleet that agrees,
//! a split at exactly its heights and its heal (the reorganization recorded), a node behind, a node
//! unreachable; polled by hand with a given clock (deterministic), and once live into a run directory.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use dualrun_fleet::poll::Poller;
use dualrun_fleet::{
    Episode, Finding, FindingRecord, FleetEvent, FleetManifest, FleetNode, FleetObserver, FleetRun, FleetRunWriter,
    FleetSettings, Watch,
};
use dualrun_rpc::Daemon;
use dualrun_testkit::fake_daemon::{header_chain, FakeDaemon, ServedBlock};

/// Collects the findings.
#[derive(Default)]
struct Findings(Vec<FindingRecord>);

impl FleetObserver for Findings {
    fn observe(&mut self, event: &FleetEvent<'_>, _: &Watch) {
        if let FleetEvent::Finding(r) = event {
            self.0.push((*r).clone());
        }
    }
}

fn settings() -> FleetSettings {
    FleetSettings {
        poll_ms: 100,
        split_depth: 3,
        behind_blocks: 5,
        behind_seconds: 1,
        unreachable_seconds: 1,
        window: 50,
    }
}

/// A fleet of fake daemons, each serving its chain, and a watch polled by hand.
struct Fleet {
    daemons: Vec<FakeDaemon>,
    pollers: Vec<Poller>,
    watch: Watch,
    now_ms: u64,
    seen: Findings,
}

impl Fleet {
    fn new(chains: Vec<Vec<ServedBlock>>) -> Fleet {
        let daemons: Vec<FakeDaemon> = chains.into_iter().map(|c| FakeDaemon::start(c, None)).collect();
        let nodes: Vec<FleetNode> = daemons
            .iter()
            .enumerate()
            .map(|(i, d)| FleetNode { name: format!("n{}", i + 1), url: d.url.clone(), zmq: None })
            .collect();
        Fleet::of(daemons, nodes)
    }

    fn of(daemons: Vec<FakeDaemon>, nodes: Vec<FleetNode>) -> Fleet {
        let pollers = nodes.iter().map(|n| Poller::new(Daemon::new(&n.url, Duration::from_secs(2)), 50)).collect();
        Fleet {
            daemons,
            pollers,
            watch: Watch::new(nodes, settings(), 1_800_000_000),
            now_ms: 0,
            seen: Findings::default(),
        }
    }

    /// One round: every node polled once, the clock moved by 100 ms.
    fn round(&mut self) {
        for i in 0..self.pollers.len() {
            let seen = self.pollers[i].poll();
            self.watch.observe(i, seen, self.now_ms, &mut self.seen);
        }
        self.now_ms += 100;
    }

    fn rounds(&mut self, n: usize) {
        (0..n).for_each(|_| self.round());
    }
}

#[test]
fn a_fleet_that_agrees_has_no_findings() {
    let chain = header_chain(&[], 30, "main");
    let mut f = Fleet::new(vec![chain.clone(), chain.clone(), chain]);
    f.rounds(20);
    assert!(f.seen.0.is_empty(), "{:?}", f.seen.0);
    let summary = dualrun_fleet::summary(&f.watch, 2.0);
    assert!(summary.agreed);
    assert!(summary.nodes.iter().all(|n| n.reached && n.tip == Some(29) && n.reorgs == 0));
}

/// n3 forks off at height 20 and mines 6 blocks of its own while n1 and n2 go on to 35: the split is
/// named at exactly heights 20..=25 with its nodes; when n3 takes the main chain again, its
/// reorganization is recorded and the split closes.
#[test]
fn a_split_at_exactly_its_heights_then_healed() {
    let base = header_chain(&[], 20, "main");
    let main = header_chain(&base, 16, "main"); // heights 0..=35
    let branch = header_chain(&base, 6, "branch"); // 20..=25 differ
    let mut f = Fleet::new(vec![main.clone(), main.clone(), branch.clone()]);
    f.rounds(3);
    let opened: Vec<&FindingRecord> = f.seen.0.iter().filter(|r| r.finding.kind() == "fleet.split").collect();
    assert_eq!(opened.len(), 1, "{:?}", f.seen.0);
    let Finding::Split { state, fork_height, last_height, groups, .. } = &opened[0].finding else { unreachable!() };
    assert_eq!((*state, *fork_height, *last_height), (Episode::Open, 20, 25));
    assert_eq!(groups[0].nodes, vec!["n1", "n2"]);
    assert_eq!(groups[1].nodes, vec!["n3"]);
    assert_eq!(groups[0].id.to_string(), main[20].header["hash"].as_str().unwrap());
    assert_eq!(groups[1].id.to_string(), branch[20].header["hash"].as_str().unwrap());
    assert!(
        opened[0].reproduce.contains("\"height\":20") && opened[0].reproduce.contains("# n3"),
        "{}",
        opened[0].reproduce
    );
    assert_eq!(f.watch.open_split().map(|s| (s.fork_height, s.last_height)), Some((20, 25)));

    // Heal: n3 takes the main chain.
    f.daemons[2].set_chain(main.clone());
    f.rounds(2);
    let kinds: Vec<String> = f.seen.0.iter().map(|r| r.finding.to_string()).collect();
    let reorg = f.seen.0.iter().find(|r| r.finding.kind() == "fleet.reorg").expect("the reorg");
    let Finding::Reorg { node, fork_height, tip, orphaned } = &reorg.finding else { unreachable!() };
    assert_eq!((node.as_str(), *fork_height, *tip, orphaned.len()), ("n3", 20, 35, 6), "{kinds:?}");
    assert_eq!(orphaned[0].id.to_string(), branch[20].header["hash"].as_str().unwrap());
    let closed = f.seen.0.last().unwrap();
    assert!(
        matches!(&closed.finding, Finding::Split { state: Episode::Closed, fork_height: 20, last_height: 25, .. }),
        "{kinds:?}"
    );
    assert!(f.watch.open_split().is_none());
    let summary = dualrun_fleet::summary(&f.watch, 1.0);
    assert!(!summary.agreed, "a split happened during the watch");
    assert_eq!(summary.findings["fleet.split"], 1);
    assert_eq!(summary.nodes[2].reorgs, 1);
}

/// A node more than 5 blocks behind for a second is behind; it closes when the node catches up.
#[test]
fn a_node_behind_and_caught_up() {
    let main = header_chain(&[], 30, "main");
    let mut f = Fleet::new(vec![main.clone(), main[..20].to_vec()]);
    f.rounds(5);
    assert!(f.seen.0.is_empty(), "not yet a second");
    f.rounds(8);
    let behind = &f.seen.0[0];
    assert!(
        matches!(&behind.finding, Finding::Behind { state: Episode::Open, node, tip: 19, highest: 29, .. } if node == "n2"),
        "{:?}",
        behind.finding
    );
    f.daemons[1].set_chain(main);
    f.rounds(1);
    assert!(matches!(&f.seen.0.last().unwrap().finding, Finding::Behind { state: Episode::Closed, .. }));
    assert_eq!(dualrun_fleet::summary(&f.watch, 1.0).nodes[1].max_lag, 10);
}

/// A node that does not answer for a second is unreachable (named, with the error); the fleet did not
/// agree.
#[test]
fn an_unreachable_node() {
    let main = header_chain(&[], 10, "main");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let daemons = vec![FakeDaemon::start(main, None)];
    let nodes = vec![
        FleetNode { name: "up".into(), url: daemons[0].url.clone(), zmq: None },
        FleetNode { name: "gone".into(), url: format!("http://{closed}"), zmq: None },
    ];
    let mut f = Fleet::of(daemons, nodes);
    f.rounds(12);
    let r = f.seen.0.iter().find(|r| r.finding.kind() == "fleet.unreachable").expect("unreachable");
    assert!(r.finding.to_string().starts_with("fleet.unreachable: gone did not answer for 1.0 s"), "{}", r.finding);
    assert!(r.reproduce.contains(&closed.to_string()) && r.reproduce.contains("get_info"), "{}", r.reproduce);
    let summary = dualrun_fleet::summary(&f.watch, 1.2);
    assert!(!summary.agreed);
    assert!(!summary.nodes[1].reached);
    assert_eq!(summary.open_at_end, vec!["fleet.unreachable gone"]);
}

/// Live: pollers on threads, a split appearing while the watch runs, into a run directory that reads
/// back whole; an edited findings file is named.
#[test]
fn live_into_a_run_directory() {
    let base = header_chain(&[], 12, "main");
    let main = header_chain(&base, 10, "main");
    let a = FakeDaemon::start(main.clone(), None);
    let b = FakeDaemon::start(main.clone(), None);
    let nodes = vec![
        FleetNode { name: "a".into(), url: a.url.clone(), zmq: None },
        FleetNode { name: "b".into(), url: b.url.clone(), zmq: None },
    ];
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("fleet");
    let manifest = FleetManifest {
        format: dualrun_rundir::fleet::dir::FORMAT.into(),
        tool: dualrun_rundir::Tool::this(),
        nodes: nodes.clone(),
        settings: settings(),
        started_at: "20261206T000000Z".into(),
        ended_at: None,
        complete: false,
        files: Default::default(),
    };
    let mut writer = FleetRunWriter::create(&run_dir, manifest).unwrap();
    let changer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        b.set_chain(header_chain(&base, 8, "other"));
        std::thread::sleep(Duration::from_millis(1500));
        b
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (watch, ran) = dualrun_fleet::run::watch(
        nodes,
        settings(),
        1_800_000_000,
        stop,
        Some(Duration::from_millis(1500)),
        &mut writer,
    );
    let summary = dualrun_fleet::summary(&watch, ran.as_secs_f64());
    writer.finish(&summary, "20261206T000002Z".into()).unwrap();
    drop(changer);

    let run = FleetRun::load(&run_dir).unwrap();
    assert_eq!(run.problems(), Vec::<String>::new());
    let split = run.findings.iter().find(|r| r.finding.kind() == "fleet.split").expect("a split");
    assert!(matches!(split.finding, Finding::Split { fork_height: 12, last_height: 19, .. }), "{:?}", split.finding);
    assert!(split.t_ms >= 600, "seen after the change: {}", split.t_ms);
    let timeline = std::fs::read_to_string(run_dir.join("timeline.jsonl")).unwrap();
    assert!(timeline.lines().count() >= 2 * 22, "both nodes' blocks: {}", timeline.lines().count());
    assert!(!run.summary.as_ref().unwrap().agreed);

    let findings = run_dir.join("findings.jsonl");
    let text = std::fs::read_to_string(&findings).unwrap();
    std::fs::write(&findings, text.replacen("\"fork_height\":12", "\"fork_height\":13", 1)).unwrap();
    let problems = FleetRun::load(&run_dir).unwrap().problems();
    assert_eq!(problems, vec!["findings.jsonl was changed after the watch (its digest is not the manifest's)"]);
}
