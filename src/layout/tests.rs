use super::*;

fn flags(w: Option<usize>, t: Option<usize>) -> LayoutFlags {
    LayoutFlags { inference_workers: w, intra_threads: t, ..Default::default() }
}

#[test]
fn machine_default_is_one_single_thread_session_per_core_with_a_lane() {
    let l = Layout::choose(16, LayoutFlags::default());
    assert_eq!((l.inference_workers, l.intra_threads, l.lane_threads), (16, 1, 8));
    assert_eq!((l.http_workers, l.rayon_threads), (2, 2));
    assert_eq!(l.onnx_threads(), 16, "the workers' own ONNX Runtime threads fill the cores, no more");
    let l = Layout::choose(2, LayoutFlags::default());
    assert_eq!((l.inference_workers, l.intra_threads, l.lane_threads, l.http_workers, l.rayon_threads), (2, 1, 2, 1, 1));
    // one core: nothing to borrow, so no lane
    let l = Layout::choose(1, LayoutFlags::default());
    assert_eq!((l.inference_workers, l.intra_threads, l.lane_threads), (1, 1, 0));
    assert_eq!(l.origin.inference_workers, Origin::Machine);
}

#[test]
fn flags_override_and_the_other_count_follows() {
    // both given: as given, and a session as wide as the machine needs no lane
    let l = Layout::choose(16, flags(Some(1), Some(16)));
    assert_eq!((l.inference_workers, l.intra_threads, l.lane_threads), (1, 16, 0));
    assert_eq!((l.origin.inference_workers, l.origin.intra_threads), (Origin::Flag, Origin::Flag));
    // workers only: threads = cores / workers (the behaviour before layouts)
    let l = Layout::choose(16, flags(Some(4), None));
    assert_eq!((l.inference_workers, l.intra_threads, l.lane_threads), (4, 4, 8));
    assert_eq!(l.origin.intra_threads, Origin::Machine);
    // threads only: workers = cores / threads
    assert_eq!(Layout::choose(16, flags(None, Some(2))).inference_workers, 8);
    // the lane and HTTP workers by flag; a lane no wider than the workers' sessions is none
    let l = Layout::choose(8, LayoutFlags { lane_threads: Some(0), http_workers: Some(3), ..Default::default() });
    assert_eq!((l.lane_threads, l.http_workers, l.origin.lane_threads), (0, 3, Origin::Flag));
    assert_eq!(Layout::choose(8, LayoutFlags { intra_threads: Some(4), lane_threads: Some(2), ..Default::default() }).lane_threads, 0);
    // zeros are taken as one
    let l = Layout::choose(0, flags(Some(0), Some(0)));
    assert_eq!((l.cores, l.inference_workers, l.intra_threads), (1, 1, 1));
}

#[test]
fn cpu_max_and_v1_quotas_in_whole_cores() {
    assert_eq!(parse_cpu_max("max 100000\n"), None);
    assert_eq!(parse_cpu_max("200000 100000\n"), Some(2));
    assert_eq!(parse_cpu_max("150000 100000"), Some(2), "1.5 cores round up");
    assert_eq!(parse_cpu_max("50000 100000"), Some(1));
    assert_eq!(parse_cpu_max(""), None);
    assert_eq!(quota_cores(-1, 100_000), None, "v1: -1 is no quota");
    assert_eq!(quota_cores(400_000, 100_000), Some(4));
}

#[test]
fn cgroup_quota_reads_the_tightest_of_the_group_and_its_parents() {
    let root = std::env::temp_dir().join(format!("parlance-cgroup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // v2: /sys/fs/cgroup/a/b with a quota of 3 cores on a, none on b
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("cpu.max"), "max 100000\n").unwrap();
    std::fs::write(root.join("a/cpu.max"), "300000 100000\n").unwrap();
    std::fs::write(root.join("a/b/cpu.max"), "max 100000\n").unwrap();
    let own = parse_proc_cgroup("0::/a/b\n");
    assert_eq!(own, vec![(String::new(), "/a/b".to_string())]);
    assert_eq!(cgroup_quota(&root, &own), Some(3));
    assert_eq!(cgroup_quota(&root, &parse_proc_cgroup("0::/\n")), None);
    // v1: cpu,cpuacct controller with a quota of 1.5 cores
    std::fs::create_dir_all(root.join("cpu,cpuacct/docker/x")).unwrap();
    std::fs::write(root.join("cpu,cpuacct/docker/x/cpu.cfs_quota_us"), "150000\n").unwrap();
    std::fs::write(root.join("cpu,cpuacct/docker/x/cpu.cfs_period_us"), "100000\n").unwrap();
    let own = parse_proc_cgroup("12:memory:/docker/x\n4:cpu,cpuacct:/docker/x\n");
    assert_eq!(cgroup_quota(&root, &own), Some(2));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn usable_cores_is_at_least_one_and_at_most_the_machine() {
    let n = usable_cores();
    assert!(n >= 1);
    assert!(n <= std::thread::available_parallelism().map(|n| n.get()).unwrap_or(n).max(n));
}

#[test]
fn single_thread_workers_batch_up_to_eight() {
    assert_eq!(default_max_batch(1), 8);
    assert_eq!(default_max_batch(2), 32);
}
