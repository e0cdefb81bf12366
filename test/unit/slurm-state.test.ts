import {describe, expect, it} from 'vitest';
import {slurmJobId} from '../../src/execute/slurm/ids.js';
import type {SlurmJobRecord, SlurmJobState, SlurmJobStateKind} from '../../src/execute/slurm/state.js';
import {
  addressOf, classifyState, explainState, isRetryable, isTerminal, isUnknownJobError, parseExitCode, parseKeyValues,
  parseSacct, parseSbatchOutput, parseScontrolShowJob, parseSqueue, sacctArgs, SQUEUE_FORMAT, squeueArgs,
} from '../../src/execute/slurm/state.js';

/**
 * Real `scontrol -o show job` lines captured from the single-node test cluster (Slurm
 * 22.05.8 on Debian 12, ci/slurm/start.sh). The trailing blank scontrol prints is kept.
 */
const scontrol = {
  nameWithBlanks:
    "JobId=3 JobName=a b#c UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901757 Nice=0 Account=(null) QOS=(null) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:36 EligibleTime=2026-11-26T09:03:36 AccrueTime=2026-11-26T09:03:36 StartTime=2026-11-26T09:03:37 EndTime=2026-11-26T09:03:37 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:37 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=/tmp/exp/q.sh WorkDir=/tmp/exp Comment=it's x  StdErr=/tmp/exp/dir with space/o-3.out StdIn=/dev/null StdOut=/tmp/exp/dir with space/o-3.out Power= ",
  arrayTaskDone:
    "JobId=6 ArrayJobId=4 ArrayTaskId=1 ArrayTaskThrottle=2 JobName=ab$HOME=x y UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901756 Nice=0 Account=(null) QOS=(null) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:45 EligibleTime=2026-11-26T09:03:45 AccrueTime=2026-11-26T09:03:45 StartTime=2026-11-26T09:03:45 EndTime=2026-11-26T09:03:45 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:45 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=/tmp/exp/q2.sh WorkDir=/tmp/exp Comment=plain  StdErr=/tmp/exp/o-6.out StdIn=/dev/null StdOut=/tmp/exp/o-6.out Power= ",
  failedExit3:
    "JobId=7 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901755 Nice=0 Account=(null) QOS=(null) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=2026-11-26T09:03:54 AccrueTime=2026-11-26T09:03:54 StartTime=2026-11-26T09:03:55 EndTime=2026-11-26T09:03:55 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:55 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/f-7.out StdIn=/dev/null StdOut=/tmp/exp/f-7.out Power= ",
  killedBySignal9:
    "JobId=8 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901754 Nice=0 Account=(null) QOS=(null) JobState=FAILED Reason=JobLaunchFailure Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:9 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=2026-11-26T09:03:54 AccrueTime=2026-11-26T09:03:54 StartTime=2026-11-26T09:03:55 EndTime=2026-11-26T09:03:55 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:55 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/k-8.out StdIn=/dev/null StdOut=/tmp/exp/k-8.out Power= ",
  timeout:
    "JobId=9 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901753 Nice=0 Account=(null) QOS=(null) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15 RunTime=00:01:04 TimeLimit=00:01:00 TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=2026-11-26T09:03:54 AccrueTime=2026-11-26T09:03:54 StartTime=2026-11-26T09:03:56 EndTime=2026-11-26T09:05:00 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:56 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/t-9.out StdIn=/dev/null StdOut=/tmp/exp/t-9.out Power= ",
  cancelledRunning:
    "JobId=10 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901752 Nice=0 Account=(null) QOS=(null) JobState=CANCELLED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15 RunTime=00:00:02 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=2026-11-26T09:03:54 AccrueTime=2026-11-26T09:03:54 StartTime=2026-11-26T09:03:56 EndTime=2026-11-26T09:03:58 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:56 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/c-10.out StdIn=/dev/null StdOut=/tmp/exp/c-10.out Power= ",
  dependencyNeverSatisfied:
    "JobId=11 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901751 Nice=0 Account=(null) QOS=(null) JobState=CANCELLED Reason=DependencyNeverSatisfied Dependency=afterok:7(failed) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=Unknown AccrueTime=Unknown StartTime=2026-11-26T09:03:56 EndTime=2026-11-26T09:03:56 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:54 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=N/A CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=24105M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/d-11.out StdIn=/dev/null StdOut=/tmp/exp/d-11.out Power= ",
  cancelledWhileHeld:
    "JobId=12 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=0 Nice=0 Account=(null) QOS=(null) JobState=CANCELLED Reason=JobHeldUser Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=Unknown AccrueTime=Unknown StartTime=2026-11-26T09:03:58 EndTime=2026-11-26T09:03:58 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:54 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=N/A CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=24105M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/p-12.out StdIn=/dev/null StdOut=/tmp/exp/p-12.out Power= ",
  gpuJobDone:
    "JobId=13 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901750 Nice=0 Account=(null) QOS=(null) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=2026-11-26T09:03:54 AccrueTime=2026-11-26T09:03:54 StartTime=2026-11-26T09:03:58 EndTime=2026-11-26T09:03:58 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:58 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/g-13.out StdIn=/dev/null StdOut=/tmp/exp/g-13.out Power= TresPerNode=gres:gpu:1 ",
  heldPending:
    "JobId=12 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=0 Nice=0 Account=(null) QOS=(null) JobState=PENDING Reason=JobHeldUser Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=Unknown AccrueTime=Unknown StartTime=Unknown EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:54 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=24105M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/p-12.out StdIn=/dev/null StdOut=/tmp/exp/p-12.out Power= ",
  pendingForResources:
    "JobId=13 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901750 Nice=0 Account=(null) QOS=(null) JobState=PENDING Reason=Resources Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=2026-11-26T09:03:54 AccrueTime=2026-11-26T09:03:54 StartTime=Unknown EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:56 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=24105M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/g-13.out StdIn=/dev/null StdOut=/tmp/exp/g-13.out Power= TresPerNode=gres:gpu:1 ",
  running:
    "JobId=10 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901752 Nice=0 Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:02 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:03:54 EligibleTime=2026-11-26T09:03:54 AccrueTime=2026-11-26T09:03:54 StartTime=2026-11-26T09:03:56 EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:03:56 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/c-10.out StdIn=/dev/null StdOut=/tmp/exp/c-10.out Power= ",
  /** `scontrol -o show job 15` for `--array=0-2%1` while task 0 runs: one line per record. */
  arrayWhileRunning: [
    "JobId=15 ArrayJobId=15 ArrayTaskId=1-2%1 ArrayTaskThrottle=1 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901748 Nice=0 Account=(null) QOS=(null) JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:05:02 EligibleTime=Unknown AccrueTime=2026-11-26T09:05:03 StartTime=Unknown EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:05:03 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=24105M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/a-15_4294967294.out StdIn=/dev/null StdOut=/tmp/exp/a-15_4294967294.out Power= ",
    "JobId=16 ArrayJobId=15 ArrayTaskId=0 ArrayTaskThrottle=1 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901748 Nice=0 Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:01 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T09:05:02 EligibleTime=2026-11-26T09:05:03 AccrueTime=2026-11-26T09:05:03 StartTime=2026-11-26T09:05:03 EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T09:05:03 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2150 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/exp StdErr=/tmp/exp/a-15_0.out StdIn=/dev/null StdOut=/tmp/exp/a-15_0.out Power= ",
  ].join('\n'),
} as const;

/** Real `squeue --noheader --states=all --format=%i|%A|%F|%K|%T|%r|%j` output from the same cluster. */
const squeueOutput = [
  '15_[1-2%1]|15|15|1-2%1|PENDING|JobArrayTaskLimit|wrap',
  '15_0|16|15|0|RUNNING|None|wrap',
  '11|11|11|N/A|CANCELLED|DependencyNeverSatisfied|wrap',
  '12|12|12|N/A|CANCELLED|JobHeldUser|wrap',
  '3|3|3|N/A|COMPLETED|None|a b#c',
  '4_2|4|4|2|COMPLETED|None|ab$HOME=x y',
  '7|7|7|N/A|FAILED|NonZeroExitCode|wrap',
  '14|14|14|N/A|FAILED|BadConstraints|wrap',
  '9|9|9|N/A|TIMEOUT|TimeLimit|wrap',
  '13|13|13|N/A|PENDING|Resources|wrap',
  '20|20|20|N/A|RUNNING|None|name|with|pipes',
].join('\n');

/**
 * Real `sacct -c --parsable2 --noheader --format=JobIDRaw,JobID,State,ExitCode,Reason`
 * output (job-completion log, no slurmdbd). It garbles job names with blanks into an
 * empty State, and reports CANCELLED and TIMEOUT with 0:0 where scontrol says 0:15.
 */
const sacctCompletionLog = [
  '7|7|FAILED|3:0|',
  '8|8|FAILED|0:9|',
  '9|9|TIMEOUT|0:0|',
  '10|10|CANCELLED|0:0|',
  '11|11|CANCELLED|0:0|',
  '3|3||0:0|',
  '13|13|COMPLETED|0:0|',
].join('\n');

/** What sacct prints with slurmdbd behind it (same --format), including steps and array tasks. */
const sacctAccounting = [
  '100|100|COMPLETED|0:0|None',
  '100.batch|100.batch|COMPLETED|0:0|',
  '100.extern|100.extern|COMPLETED|0:0|',
  '101|101|CANCELLED by 0|0:15|None',
  '103|102_0|COMPLETED|0:0|None',
  '102|102_1|OUT_OF_MEMORY|0:125|OutOfMemory',
  '102.batch|102_1.batch|OUT_OF_MEMORY|0:125|',
  '104|104_[2-5%2]|PENDING|0:0|JobArrayTaskLimit',
  '105|105|NODE_FAIL|0:0|NodeDown',
  '106|106|PREEMPTED|0:0|None',
  '107|107|FAILED|1:0|NonZeroExitCode',
  '108|108|PENDING|0:0|DependencyNeverSatisfied',
].join('\n');

function only(records: SlurmJobRecord[]): SlurmJobRecord {
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe('parseKeyValues', () => {
  it('keeps blanks inside values and keys with : and /', () => {
    const f = parseKeyValues(scontrol.nameWithBlanks);
    expect(f.get('JobName')).toBe('a b#c');
    expect(f.get('Comment')).toBe("it's x");
    expect(f.get('StdOut')).toBe('/tmp/exp/dir with space/o-3.out');
    expect(f.get('AllocNode:Sid')).toBe('localhost:2150');
    expect(f.get('CPUs/Task')).toBe('1');
    expect(f.get('TRES')).toBe('cpu=1,node=1,billing=1');
    expect(f.get('Power')).toBe('');
  });
});

describe('parseScontrolShowJob on real output', () => {
  it.each<[string, string, SlurmJobState, Partial<SlurmJobRecord>]>([
    ['exit 3', scontrol.failedExit3, {kind: 'failed', exitCode: 3, signal: 0}, {jobId: slurmJobId('7'), reason: 'NonZeroExitCode'}],
    ['kill -9 of the script', scontrol.killedBySignal9, {kind: 'failed', exitCode: 0, signal: 9}, {reason: 'JobLaunchFailure'}],
    ['--time=0:01 exceeded', scontrol.timeout, {kind: 'timeout'}, {exitCode: {status: 0, signal: 15}, reason: 'TimeLimit'}],
    ['scancel while running', scontrol.cancelledRunning, {kind: 'cancelled'}, {exitCode: {status: 0, signal: 15}, reason: undefined}],
    ['scancel while held', scontrol.cancelledWhileHeld, {kind: 'cancelled'}, {reason: 'JobHeldUser'}],
    ['afterok on a failed job', scontrol.dependencyNeverSatisfied, {kind: 'dependency-never-satisfied'}, {reason: 'DependencyNeverSatisfied'}],
    ['--hold', scontrol.heldPending, {kind: 'pending', reason: 'JobHeldUser'}, {}],
    ['waiting for a CPU', scontrol.pendingForResources, {kind: 'pending', reason: 'Resources'}, {}],
    ['running', scontrol.running, {kind: 'running'}, {name: 'wrap'}],
    ['--gres=gpu:1 done', scontrol.gpuJobDone, {kind: 'completed'}, {exitCode: {status: 0, signal: 0}}],
    ['a name with blanks', scontrol.nameWithBlanks, {kind: 'completed'}, {name: 'a b#c', arrayJobId: undefined}],
  ])('%s', (_what, line, state, fields) => {
    const r = only(parseScontrolShowJob(line));
    expect(r.state).toEqual(state);
    expect(r).toMatchObject(fields);
  });

  it('reads an array task, which has an id of its own', () => {
    const r = only(parseScontrolShowJob(scontrol.arrayTaskDone));
    expect(r).toMatchObject({jobId: '6', arrayJobId: '4', arrayTaskId: 1, name: 'ab$HOME=x y', state: {kind: 'completed'}});
    expect(addressOf(r)).toBe('4_1');
  });

  it('reads one record per line for an array, pending tasks grouped', () => {
    const [pending, running] = parseScontrolShowJob(scontrol.arrayWhileRunning);
    expect(pending).toMatchObject({
      jobId: '15', arrayJobId: '15', arrayTaskId: undefined, pendingArrayTasks: '1-2%1',
      state: {kind: 'pending', reason: 'JobArrayTaskLimit'},
    });
    expect(running).toMatchObject({jobId: '16', arrayJobId: '15', arrayTaskId: 0, state: {kind: 'running'}});
    expect(addressOf(pending!)).toBe('15');
    expect(addressOf(running!)).toBe('15_0');
  });

  it('rejects lines that are not job records', () => {
    expect(() => parseScontrolShowJob('slurm_load_jobs error: Invalid job id specified')).toThrow(/no JobId or JobState/);
    expect(parseScontrolShowJob('\n')).toEqual([]);
  });

  it('recognises the error for a purged or unknown job', () => {
    expect(isUnknownJobError('slurm_load_jobs error: Invalid job id specified\n')).toBe(true);
    expect(isUnknownJobError('slurm_load_jobs error: Unable to contact slurm controller (connect failure)')).toBe(false);
  });
});

describe('parseSqueue on real output', () => {
  const records = parseSqueue(squeueOutput);

  it('documents and builds its format', () => {
    expect(SQUEUE_FORMAT).toBe('%i|%A|%F|%K|%T|%r|%j');
    expect(squeueArgs([slurmJobId('15'), slurmJobId('7')])).toEqual([
      '--noheader', '--states=all', '--format=%i|%A|%F|%K|%T|%r|%j', '--jobs=15,7',
    ]);
  });

  it.each<[number, Partial<SlurmJobRecord>]>([
    [0, {jobId: slurmJobId('15'), arrayJobId: slurmJobId('15'), pendingArrayTasks: '1-2%1', state: {kind: 'pending', reason: 'JobArrayTaskLimit'}}],
    [1, {jobId: slurmJobId('16'), arrayJobId: slurmJobId('15'), arrayTaskId: 0, state: {kind: 'running'}}],
    [2, {jobId: slurmJobId('11'), arrayJobId: undefined, state: {kind: 'dependency-never-satisfied'}}],
    [3, {state: {kind: 'cancelled'}, reason: 'JobHeldUser'}],
    [4, {name: 'a b#c', state: {kind: 'completed'}}],
    [5, {jobId: slurmJobId('4'), arrayJobId: slurmJobId('4'), arrayTaskId: 2, name: 'ab$HOME=x y'}],
    // squeue has no exit code: the failure is known, its status is not.
    [6, {state: {kind: 'failed', exitCode: null, signal: null}, exitCode: undefined}],
    [7, {state: {kind: 'failed', exitCode: null, signal: null}, reason: 'BadConstraints'}],
    [8, {state: {kind: 'timeout'}, reason: 'TimeLimit'}],
    [9, {state: {kind: 'pending', reason: 'Resources'}}],
    [10, {name: 'name|with|pipes', state: {kind: 'running'}}],
  ])('line %i', (index, fields) => {
    expect(records[index]).toMatchObject(fields);
  });

  it('rejects output in another format', () => {
    expect(() => parseSqueue('JOBID PARTITION NAME')).toThrow(/expected format/);
  });
});

describe('parseSacct', () => {
  it('reads the job-completion log of the test cluster', () => {
    const byId = new Map(parseSacct(sacctCompletionLog).map((r) => [r.jobId as string, r]));
    expect(byId.get('7')?.state).toEqual({kind: 'failed', exitCode: 3, signal: 0});
    expect(byId.get('8')?.state).toEqual({kind: 'failed', exitCode: 0, signal: 9});
    expect(byId.get('9')?.state).toEqual({kind: 'timeout'});
    expect(byId.get('10')?.state).toEqual({kind: 'cancelled'});
    // Without a Reason column entry, a dependency failure looks like any cancellation.
    expect(byId.get('11')?.state).toEqual({kind: 'cancelled'});
    expect(byId.get('3')?.state).toEqual({kind: 'unknown', raw: ''});
    expect(byId.get('13')?.state).toEqual({kind: 'completed'});
  });

  it('skips job steps and reads array tasks, "CANCELLED by" and reasons', () => {
    const records = parseSacct(sacctAccounting);
    expect(records.map((r) => [addressOf(r), r.state.kind])).toEqual([
      ['100', 'completed'],
      ['101', 'cancelled'],
      ['102_0', 'completed'],
      ['102_1', 'out-of-memory'],
      ['104', 'pending'],
      ['105', 'node-fail'],
      ['106', 'preempted'],
      ['107', 'failed'],
      ['108', 'dependency-never-satisfied'],
    ]);
    expect(records[2]).toMatchObject({jobId: '103', arrayJobId: '102', arrayTaskId: 0});
    expect(records[4]).toMatchObject({pendingArrayTasks: '2-5%2', reason: 'JobArrayTaskLimit'});
    expect(records[7]?.state).toEqual({kind: 'failed', exitCode: 1, signal: 0});
  });

  it('always passes a start time', () => {
    expect(sacctArgs({ids: [slurmJobId('7')], startTime: '2026-11-26T00:00:00'})).toEqual([
      '--parsable2', '--noheader', '--format=JobIDRaw,JobID,State,ExitCode,Reason', '--starttime=2026-11-26T00:00:00', '--jobs=7',
    ]);
    expect(sacctArgs({ids: [], startTime: 'now-1days', completionLog: true})[0]).toBe('--completion');
  });
});

describe('parseSbatchOutput', () => {
  it.each([
    ['12345\n', '12345', undefined],
    ['12345;gpu-cluster\n', '12345', 'gpu-cluster'],
    ['site banner\n77\n', '77', undefined],
  ])('reads %j', (stdout, id, cluster) => {
    expect(parseSbatchOutput(stdout)).toEqual({jobId: id, cluster});
  });

  it.each(['', 'Submitted batch job 12', 'sbatch: error: Batch job submission failed'])('rejects %j', (stdout) => {
    expect(() => parseSbatchOutput(stdout)).toThrow(/Unexpected output from sbatch/);
  });
});

describe('state classification', () => {
  it.each<[string, string | undefined, SlurmJobState]>([
    ['PENDING', 'Priority', {kind: 'pending', reason: 'Priority'}],
    ['PENDING', 'DependencyNeverSatisfied', {kind: 'dependency-never-satisfied'}],
    ['CONFIGURING', undefined, {kind: 'pending', reason: 'CONFIGURING'}],
    ['REQUEUED', undefined, {kind: 'pending', reason: 'REQUEUED'}],
    ['COMPLETING', undefined, {kind: 'running'}],
    ['SUSPENDED', undefined, {kind: 'running'}],
    ['CANCELLED+', undefined, {kind: 'cancelled'}],
    ['DEADLINE', undefined, {kind: 'timeout'}],
    ['BOOT_FAIL', undefined, {kind: 'node-fail'}],
    ['OUT_OF_MEMORY', 'OutOfMemory', {kind: 'out-of-memory'}],
    ['completed', undefined, {kind: 'completed'}],
    ['REVOKED', undefined, {kind: 'unknown', raw: 'REVOKED'}],
  ])('%s (%s)', (raw, reason, state) => {
    expect(classifyState(raw, reason)).toEqual(state);
  });

  it('reads exit codes', () => {
    expect(parseExitCode('3:0')).toEqual({status: 3, signal: 0});
    expect(parseExitCode('0:15')).toEqual({status: 0, signal: 15});
    expect(parseExitCode('')).toBeUndefined();
    expect(parseExitCode('3')).toBeUndefined();
  });

  const everyKind: Record<SlurmJobStateKind, {state: SlurmJobState; terminal: boolean; retry: boolean; text: RegExp}> = {
    'pending': {state: {kind: 'pending', reason: 'JobArrayTaskLimit'}, terminal: false, retry: false, text: /limit on tasks running at once/},
    'running': {state: {kind: 'running'}, terminal: false, retry: false, text: /^running$/},
    'completed': {state: {kind: 'completed'}, terminal: true, retry: false, text: /successfully/},
    'failed': {state: {kind: 'failed', exitCode: 3, signal: 0}, terminal: true, retry: false, text: /exit status 3/},
    'timeout': {state: {kind: 'timeout'}, terminal: true, retry: false, text: /time limit/},
    'out-of-memory': {state: {kind: 'out-of-memory'}, terminal: true, retry: false, text: /memory/},
    'node-fail': {state: {kind: 'node-fail'}, terminal: true, retry: true, text: /node/},
    'preempted': {state: {kind: 'preempted'}, terminal: true, retry: true, text: /preempted/},
    'cancelled': {state: {kind: 'cancelled'}, terminal: true, retry: false, text: /cancelled/},
    'dependency-never-satisfied': {state: {kind: 'dependency-never-satisfied'}, terminal: true, retry: false, text: /never start/},
    'unknown': {state: {kind: 'unknown', raw: 'REVOKED'}, terminal: false, retry: false, text: /"REVOKED"/},
  };

  it.each(Object.entries(everyKind))('%s: terminal, retryable and explained', (_kind, expected) => {
    expect(isTerminal(expected.state)).toBe(expected.terminal);
    expect(isRetryable(expected.state)).toBe(expected.retry);
    expect(explainState(expected.state)).toMatch(expected.text);
  });

  it('explains signals and unknown exit statuses of failures', () => {
    expect(explainState({kind: 'failed', exitCode: 0, signal: 9})).toBe('was killed by signal 9');
    expect(explainState({kind: 'failed', exitCode: null, signal: null})).toBe('failed; see the job log');
    expect(explainState({kind: 'pending', reason: undefined})).toBe('waiting in the queue');
    expect(explainState({kind: 'pending', reason: 'QOSMaxJobsPerUserLimit'})).toMatch(/limit of the QOS or account/);
  });

  it('fails loudly on a kind that slipped past the types', () => {
    expect(() => isTerminal({kind: 'exploded'} as unknown as SlurmJobState)).toThrow(/unexpected value/);
  });
});
