//! Device state of one node and the allocation function: a pure choice of devices for a pod's request, the
//! allocation record written to the pod, and exact release.
//!
//! Rules (scheduling.md §2.4, §2.7):
//! - Whole GPUs take a healthy non-MIG device with nothing on it, and all of its memory and cores; nothing else
//!   is placed on it until it is released. A shared device is never handed out whole.
//! - A vGPU share takes a slot (`splitCount` bounds them), its memory and cores; never more memory or cores than
//!   the device has; a 100 % cores share needs an idle device, and a 0 % share needs a device with cores left.
//!   The shares of one container sit on distinct devices.
//! - MIG slices come from the applied layout of a device in MIG mode.
//! - Order: `binpack` tries the most used device first (usage = slots/splitCount + cores/total + memory/total),
//!   `spread` the least used; ties go to the lower NUMA node, then the lower index.
//! - NUMA: a multi-device request is placed on one NUMA node when some NUMA node can take it all (the NUMA node
//!   of the best-ranked device among those that can); otherwise it spans NUMA nodes, unless `numa-bind` is set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::GpuDevice;
use super::request::{ContainerRequest, DeviceRequest, GpuRequest, Memory, Policy};

/// The pod annotation holding the allocation record (JSON [`Allocation`]).
pub const ALLOCATED_ANNOTATION: &str = "gpu.ksx.io/allocated";

/// How a device is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum GrantKind {
    /// The whole device, exclusively.
    Whole,
    /// A vGPU share.
    Shared,
    /// One MIG slice.
    Mig,
}

/// One device (or slice) given to a container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// The device UUID.
    pub uuid: String,
    /// The device index.
    pub index: u32,
    /// How it is held.
    pub kind: GrantKind,
    /// Memory taken, MiB (MIG: 0, the slice carries its own).
    #[serde(rename = "memoryMiB")]
    pub memory_mib: i64,
    /// Cores taken, percent (MIG: 0).
    pub cores: i64,
    /// The MIG profile (MIG grants only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mig_profile: Option<String>,
}

/// The devices of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerGrant {
    /// The container name.
    pub name: String,
    /// Its devices, in choice order.
    pub devices: Vec<Grant>,
}

/// A pod's allocation: the `gpu.ksx.io/allocated` record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// The node.
    pub node: String,
    /// Per container with devices.
    pub containers: Vec<ContainerGrant>,
}

impl Allocation {
    /// Every grant.
    pub fn grants(&self) -> impl Iterator<Item = &Grant> {
        self.containers.iter().flat_map(|c| &c.devices)
    }

    /// The record as annotation text.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What is in use on one device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceUsage {
    /// vGPU shares (a whole-GPU grant counts one).
    pub slots: u32,
    /// Memory, MiB.
    pub memory_mib: i64,
    /// Cores, percent.
    pub cores: i64,
    /// Held whole.
    pub whole: bool,
    /// MIG slices in use, aligned with [`GpuDevice::mig`].
    pub mig_used: Vec<u32>,
}

/// A node's devices, what is in use, and the allocations that use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDevices {
    /// The node.
    pub node: String,
    /// Its devices, by index.
    pub devices: Vec<GpuDevice>,
    /// Usage, aligned with `devices`.
    pub usage: Vec<DeviceUsage>,
    /// Allocations by pod key.
    pub pods: BTreeMap<String, Allocation>,
}

/// Why a request does not fit a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    /// The reason, naming the node (`no GPU with 80000 MiB free (largest 40960 MiB on node x)`).
    pub reason: String,
    /// True when the node could not take it even with every device idle (preemption cannot help).
    pub unresolvable: bool,
}

impl NodeDevices {
    /// A node's devices, all idle.
    pub fn new(node: impl Into<String>, devices: Vec<GpuDevice>) -> Self {
        let usage = devices
            .iter()
            .map(|d| DeviceUsage {
                mig_used: vec![0; d.mig.len()],
                ..DeviceUsage::default()
            })
            .collect();
        Self {
            node: node.into(),
            devices,
            usage,
            pods: BTreeMap::new(),
        }
    }

    /// Chooses devices for a request without changing anything; `policy` applies unless the request names one.
    ///
    /// # Errors
    /// [`Unfit`] with the first container's reason.
    pub fn allocate(&self, request: &GpuRequest, policy: Policy) -> Result<Allocation, Unfit> {
        if let Some(e) = &request.policy_error {
            return Err(Unfit {
                reason: e.clone(),
                unresolvable: true,
            });
        }
        let policy = request.policy.unwrap_or(policy);
        let mut usage = self.usage.clone();
        let mut out = Allocation {
            node: self.node.clone(),
            containers: Vec::with_capacity(request.containers.len()),
        };
        for c in &request.containers {
            let grants = self.allocate_container(c, &usage, policy, request.numa_bind)?;
            for g in &grants {
                self.apply(&mut usage, g, 1);
            }
            out.containers.push(ContainerGrant {
                name: c.name.clone(),
                devices: grants,
            });
        }
        Ok(out)
    }

    fn allocate_container(
        &self,
        c: &ContainerRequest,
        usage: &[DeviceUsage],
        policy: Policy,
        numa_bind: bool,
    ) -> Result<Vec<Grant>, Unfit> {
        let mut grants = Vec::new();
        for r in &c.requests {
            match r {
                DeviceRequest::Mig { profile, count } => {
                    grants.extend(self.allocate_mig(profile, *count, usage, policy)?);
                }
                _ => grants.extend(self.allocate_devices(r, usage, policy, numa_bind)?),
            }
        }
        Ok(grants)
    }

    fn idle_usage(&self) -> Vec<DeviceUsage> {
        Self::new(self.node.clone(), self.devices.clone()).usage
    }

    fn unfit(&self, reason: String, r: &DeviceRequest, numa_bind: bool) -> Unfit {
        let idle = self.idle_usage();
        let unresolvable = match r {
            DeviceRequest::Mig { profile, count } => {
                self.free_mig(profile, &idle).len() < *count as usize
            }
            _ => {
                let n = self.fitting(r, &idle).len();
                let count = request_count(r) as usize;
                n < count || (numa_bind && self.best_numa_count(r, &idle) < count)
            }
        };
        Unfit {
            reason,
            unresolvable,
        }
    }

    /// Indexes (into `devices`) of the devices one unit of `r` fits on, unordered.
    fn fitting(&self, r: &DeviceRequest, usage: &[DeviceUsage]) -> Vec<usize> {
        self.devices
            .iter()
            .zip(usage)
            .enumerate()
            .filter(|(_, (d, u))| fits(d, u, r))
            .map(|(i, _)| i)
            .collect()
    }

    fn best_numa_count(&self, r: &DeviceRequest, usage: &[DeviceUsage]) -> usize {
        let mut per: BTreeMap<u32, usize> = BTreeMap::new();
        for i in self.fitting(r, usage) {
            if let Some(d) = self.devices.get(i) {
                *per.entry(d.numa).or_insert(0) += 1;
            }
        }
        per.values().copied().max().unwrap_or(0)
    }

    fn allocate_devices(
        &self,
        r: &DeviceRequest,
        usage: &[DeviceUsage],
        policy: Policy,
        numa_bind: bool,
    ) -> Result<Vec<Grant>, Unfit> {
        let n = request_count(r) as usize;
        let mut order = self.fitting(r, usage);
        self.sort(&mut order, usage, policy);
        if order.len() < n {
            return Err(self.unfit(self.reason(r, usage, order.len()), r, numa_bind));
        }
        let chosen: Vec<usize> = if n <= 1 {
            order.into_iter().take(n).collect()
        } else {
            // The NUMA node of the best-ranked device among NUMA nodes that can take all n.
            let mut per: BTreeMap<u32, usize> = BTreeMap::new();
            for &i in &order {
                *per.entry(self.numa(i)).or_insert(0) += 1;
            }
            let numa = order
                .iter()
                .map(|&i| self.numa(i))
                .find(|m| per.get(m).is_some_and(|c| *c >= n));
            match numa {
                Some(m) => order
                    .into_iter()
                    .filter(|&i| self.numa(i) == m)
                    .take(n)
                    .collect(),
                None if numa_bind => {
                    let best = per.values().copied().max().unwrap_or(0);
                    return Err(self.unfit(
                        format!(
                            "{n} GPUs requested with numa-bind, at most {best} fit on one NUMA node of node {}",
                            self.node
                        ),
                        r,
                        numa_bind,
                    ));
                }
                None => order.into_iter().take(n).collect(),
            }
        };
        Ok(chosen
            .into_iter()
            .filter_map(|i| self.grant(i, r))
            .collect())
    }

    fn allocate_mig(
        &self,
        profile: &str,
        count: u32,
        usage: &[DeviceUsage],
        policy: Policy,
    ) -> Result<Vec<Grant>, Unfit> {
        let mut free = self.free_mig(profile, usage);
        if free.len() < count as usize {
            let r = DeviceRequest::Mig {
                profile: profile.to_owned(),
                count,
            };
            return Err(self.unfit(
                format!(
                    "{count} MIG {profile} slices requested, {} free on node {}",
                    free.len(),
                    self.node
                ),
                &r,
                false,
            ));
        }
        // Each free slice is (device, slot); order devices by policy on their slice usage, then index.
        let frac = |i: usize| -> (u64, u64) {
            let d = self.devices.get(i);
            let total: u64 = d.map_or(0, |d| d.mig.iter().map(|m| u64::from(m.count)).sum());
            let used: u64 = usage
                .get(i)
                .map_or(0, |u| u.mig_used.iter().map(|&x| u64::from(x)).sum());
            (used, total.max(1))
        };
        free.sort_by(|&(a, _), &(b, _)| {
            let ((ua, ta), (ub, tb)) = (frac(a), frac(b));
            let by_use = (ua * tb).cmp(&(ub * ta));
            let by_use = match policy {
                Policy::Binpack => by_use.reverse(),
                Policy::Spread => by_use,
            };
            by_use
                .then_with(|| self.numa(a).cmp(&self.numa(b)))
                .then_with(|| self.index(a).cmp(&self.index(b)))
        });
        // Slices of one device are taken together in binpack; spread takes at most one per device per round.
        let mut picked: Vec<usize> = Vec::new();
        match policy {
            Policy::Binpack => picked.extend(free.iter().take(count as usize).map(|(i, _)| *i)),
            Policy::Spread => {
                let mut rounds: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
                for (i, _) in &free {
                    let k = seen.entry(*i).or_insert(0);
                    rounds.entry(*k).or_default().push(*i);
                    *k += 1;
                }
                picked.extend(rounds.into_values().flatten().take(count as usize));
            }
        }
        Ok(picked
            .into_iter()
            .filter_map(|i| {
                self.devices.get(i).map(|d| Grant {
                    uuid: d.uuid.clone(),
                    index: d.index,
                    kind: GrantKind::Mig,
                    memory_mib: 0,
                    cores: 0,
                    mig_profile: Some(profile.to_owned()),
                })
            })
            .collect())
    }

    /// Free slices of a profile: one `(device, slot)` entry per free instance, healthy devices only.
    fn free_mig(&self, profile: &str, usage: &[DeviceUsage]) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        for (i, (d, u)) in self.devices.iter().zip(usage).enumerate() {
            if !d.healthy {
                continue;
            }
            for (j, m) in d.mig.iter().enumerate() {
                if m.profile == profile {
                    let used = u.mig_used.get(j).copied().unwrap_or(0);
                    out.extend((used..m.count).map(|s| (i, s)));
                }
            }
        }
        out
    }

    fn numa(&self, i: usize) -> u32 {
        self.devices.get(i).map_or(0, |d| d.numa)
    }

    fn index(&self, i: usize) -> u32 {
        self.devices.get(i).map_or(0, |d| d.index)
    }

    fn sort(&self, order: &mut [usize], usage: &[DeviceUsage], policy: Policy) {
        // usage score as a fraction with a common denominator: exact integer comparison.
        let key = |i: usize| -> u128 {
            let (Some(d), Some(u)) = (self.devices.get(i), usage.get(i)) else {
                return 0;
            };
            let split = u128::from(d.split_count.max(1));
            let cores = u128::try_from(d.cores.max(1)).unwrap_or(1);
            let mem = u128::try_from(d.memory_mib.max(1)).unwrap_or(1);
            let s = u128::from(u.slots);
            let c = u128::try_from(u.cores.max(0)).unwrap_or(0);
            let m = u128::try_from(u.memory_mib.max(0)).unwrap_or(0);
            // (s/split + c/cores + m/mem) scaled by split·cores·mem; normalized per device to 2^64 so devices of
            // different sizes compare by fraction.
            let num = s * cores * mem + c * split * mem + m * split * cores;
            let den = split * cores * mem;
            (num << 64) / den
        };
        order.sort_by(|&a, &b| {
            let by_use = key(a).cmp(&key(b));
            let by_use = match policy {
                Policy::Binpack => by_use.reverse(),
                Policy::Spread => by_use,
            };
            by_use
                .then_with(|| self.numa(a).cmp(&self.numa(b)))
                .then_with(|| self.index(a).cmp(&self.index(b)))
        });
    }

    fn grant(&self, i: usize, r: &DeviceRequest) -> Option<Grant> {
        let d = self.devices.get(i)?;
        let (kind, memory_mib, cores) = match r {
            DeviceRequest::Whole { .. } => (GrantKind::Whole, d.memory_mib, d.cores),
            DeviceRequest::Shared { memory, cores, .. } => (
                GrantKind::Shared,
                memory.of(d.memory_mib),
                cores_of(*cores, d.cores),
            ),
            DeviceRequest::Mig { .. } => return None,
        };
        Some(Grant {
            uuid: d.uuid.clone(),
            index: d.index,
            kind,
            memory_mib,
            cores,
            mig_profile: None,
        })
    }

    fn reason(&self, r: &DeviceRequest, usage: &[DeviceUsage], fitting: usize) -> String {
        let node = &self.node;
        let plain: Vec<(&GpuDevice, &DeviceUsage)> = self
            .devices
            .iter()
            .zip(usage)
            .filter(|(d, _)| d.healthy && !d.is_mig())
            .collect();
        if plain.is_empty() {
            return format!("no usable GPU on node {node}");
        }
        let n = request_count(r);
        match r {
            DeviceRequest::Whole { .. } => {
                format!("{n} whole GPUs requested, {fitting} idle on node {node}")
            }
            DeviceRequest::Shared { memory, cores, .. } => {
                let open: Vec<&(&GpuDevice, &DeviceUsage)> = plain
                    .iter()
                    .filter(|(d, u)| !u.whole && u.slots < d.split_count)
                    .collect();
                let mem_ok = open
                    .iter()
                    .any(|(d, u)| d.memory_mib - u.memory_mib >= memory.of(d.memory_mib));
                if !mem_ok {
                    let largest = open
                        .iter()
                        .map(|(d, u)| d.memory_mib - u.memory_mib)
                        .max()
                        .unwrap_or(0);
                    let want = match memory {
                        Memory::MiB(m) => format!("{m} MiB"),
                        Memory::Percent(p) => format!("{p}% memory"),
                        Memory::Whole => "all memory".to_owned(),
                    };
                    return format!(
                        "no GPU with {want} free (largest {largest} MiB on node {node})"
                    );
                }
                let cores_ok = open.iter().any(|(d, u)| core_fit(d, u, *cores));
                if !cores_ok && *cores == 0 {
                    return format!("no GPU with cores left (all cores in use on node {node})");
                }
                if !cores_ok {
                    let largest = open
                        .iter()
                        .map(|(d, u)| d.cores - u.cores)
                        .max()
                        .unwrap_or(0);
                    return format!(
                        "no GPU with {cores}% cores free (largest {largest}% on node {node})"
                    );
                }
                format!("{n} GPUs requested, {fitting} fit on node {node}")
            }
            DeviceRequest::Mig { .. } => String::new(),
        }
    }

    /// Adds (`sign` 1) or removes (`-1`) a grant's usage.
    fn apply(&self, usage: &mut [DeviceUsage], g: &Grant, sign: i64) {
        let Some(i) = self.devices.iter().position(|d| d.uuid == g.uuid) else {
            return;
        };
        let (Some(d), Some(u)) = (self.devices.get(i), usage.get_mut(i)) else {
            return;
        };
        let step = |v: u32| {
            if sign > 0 {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            }
        };
        match g.kind {
            GrantKind::Mig => {
                if let Some(j) = d
                    .mig
                    .iter()
                    .position(|m| Some(&m.profile) == g.mig_profile.as_ref())
                    && let Some(x) = u.mig_used.get_mut(j)
                {
                    *x = step(*x);
                }
            }
            kind => {
                u.slots = step(u.slots);
                u.memory_mib += sign * g.memory_mib;
                u.cores += sign * g.cores;
                if kind == GrantKind::Whole {
                    u.whole = sign > 0;
                }
            }
        }
    }

    /// Records an allocation for a pod (replacing an earlier one of the same pod).
    ///
    /// # Errors
    /// A message when a grant names a device the node does not have, or would over-commit a device (the record
    /// does not match this node's devices).
    pub fn commit(&mut self, pod_key: &str, allocation: Allocation) -> Result<(), String> {
        self.release(pod_key);
        let mut usage = self.usage.clone();
        for g in allocation.grants() {
            let Some(i) = self.devices.iter().position(|d| d.uuid == g.uuid) else {
                return Err(format!("device {} is not on node {}", g.uuid, self.node));
            };
            let (Some(d), Some(u)) = (self.devices.get(i), usage.get(i)) else {
                continue;
            };
            let ok =
                match g.kind {
                    GrantKind::Whole => !d.is_mig() && u.slots == 0,
                    GrantKind::Shared => {
                        !d.is_mig()
                            && !u.whole
                            && u.slots < d.split_count
                            && g.memory_mib >= 0
                            && g.cores >= 0
                            && u.memory_mib + g.memory_mib <= d.memory_mib
                            && u.cores + g.cores <= d.cores
                    }
                    GrantKind::Mig => d.mig.iter().zip(&u.mig_used).any(|(m, used)| {
                        Some(&m.profile) == g.mig_profile.as_ref() && *used < m.count
                    }),
                };
            if !ok {
                return Err(format!(
                    "grant of device {} ({:?}) over-commits it on node {}",
                    g.uuid, g.kind, self.node
                ));
            }
            self.apply(&mut usage, g, 1);
        }
        self.usage = usage;
        self.pods.insert(pod_key.to_owned(), allocation);
        Ok(())
    }

    /// Gives a pod's devices back; returns its allocation.
    pub fn release(&mut self, pod_key: &str) -> Option<Allocation> {
        let allocation = self.pods.remove(pod_key)?;
        let mut usage = std::mem::take(&mut self.usage);
        for g in allocation.grants() {
            self.apply(&mut usage, g, -1);
        }
        self.usage = usage;
        Some(allocation)
    }

    /// The node's usage fractions after adding an allocation: `(slots, cores, memory)` over non-MIG devices
    /// (`Σ used / Σ total`), MIG slices counting in `slots` (used instances / instances).
    pub fn fractions(&self, extra: Option<&Allocation>) -> [f64; 3] {
        let mut usage = self.usage.clone();
        for g in extra.into_iter().flat_map(Allocation::grants) {
            self.apply(&mut usage, g, 1);
        }
        let (mut s, mut st, mut c, mut ct, mut m, mut mt) = (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
        for (d, u) in self.devices.iter().zip(&usage).filter(|(d, _)| d.healthy) {
            if d.is_mig() {
                s += u.mig_used.iter().map(|&x| i64::from(x)).sum::<i64>();
                st += d.mig.iter().map(|x| i64::from(x.count)).sum::<i64>();
            } else {
                s += i64::from(u.slots);
                st += i64::from(d.split_count);
                c += u.cores;
                ct += d.cores;
                m += u.memory_mib;
                mt += d.memory_mib;
            }
        }
        let f = |a: i64, b: i64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        [f(s, st), f(c, ct), f(m, mt)]
    }
}

fn request_count(r: &DeviceRequest) -> u32 {
    match r {
        DeviceRequest::Whole { count }
        | DeviceRequest::Shared { count, .. }
        | DeviceRequest::Mig { count, .. } => *count,
    }
}

/// A share's cores on a device whose `total` is `100 × core scaling`: percent of the card.
fn cores_of(percent: i64, total: i64) -> i64 {
    total.saturating_mul(percent.clamp(0, 100)) / 100
}

fn core_fit(d: &GpuDevice, u: &DeviceUsage, percent: i64) -> bool {
    let want = cores_of(percent, d.cores);
    if percent >= 100 {
        u.slots == 0 && u.cores == 0
    } else if want == 0 {
        u.cores < d.cores
    } else {
        d.cores - u.cores >= want
    }
}

/// True when one unit of `r` (not MIG) fits on a device in its current usage.
fn fits(d: &GpuDevice, u: &DeviceUsage, r: &DeviceRequest) -> bool {
    if !d.healthy || d.is_mig() {
        return false;
    }
    match r {
        DeviceRequest::Whole { .. } => u.slots == 0 && u.memory_mib == 0 && u.cores == 0,
        DeviceRequest::Shared { memory, cores, .. } => {
            !u.whole
                && u.slots < d.split_count
                && d.memory_mib - u.memory_mib >= memory.of(d.memory_mib)
                && core_fit(d, u, *cores)
        }
        DeviceRequest::Mig { .. } => false,
    }
}
