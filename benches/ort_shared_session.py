"""Two threads running one ONNX Runtime session against two sessions, same batches (issue 25, item 2).

    taskset -c 0,1 .ort/test-venv/bin/python benches/ort_shared_session.py [rounds, default 5]

Sessions as Parlance builds them (one intra-op thread, sequential, SkipLayerNormFusion off);
16 batches of 1-8 texts x 8-48 tokens from random ids; each round runs 3 s shared, then 3 s own.
"""
import os
import onnxruntime as ort, numpy as np, threading, time, sys
P=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'models', 'default', 'model.onnx')
def sess(arena=True, pattern=True):
    o=ort.SessionOptions(); o.intra_op_num_threads=1; o.inter_op_num_threads=1
    o.execution_mode=ort.ExecutionMode.ORT_SEQUENTIAL
    o.add_session_config_entry("optimization.disable_specified_optimizers","SkipLayerNormFusion")
    o.enable_cpu_mem_arena=arena; o.enable_mem_pattern=pattern
    return ort.InferenceSession(P,o,providers=['CPUExecutionProvider'])
rng=np.random.default_rng(0)
feeds=[]
for i in range(16):
    b=1+i%8; w=8+(i*5)%40
    feeds.append({'input_ids':rng.integers(1000,20000,(b,w)).astype(np.int64),'attention_mask':np.ones((b,w),np.int64)})
def bench(sessions, secs=3.0):
    count=[0]*len(sessions); stop=time.time()+secs
    def work(k):
        s=sessions[k]; i=k
        while time.time()<stop:
            s.run(None,feeds[i%16]); i+=1; count[k]+=1
    ts=[threading.Thread(target=work,args=(k,)) for k in range(len(sessions))]
    [t.start() for t in ts]; [t.join() for t in ts]
    return sum(count)/secs
shared=sess(); own=[sess(),sess()]
for s in [shared]+own:
    for f in feeds: s.run(None,f)
res={'shared':[],'own':[]}
for r in range(int(sys.argv[1]) if len(sys.argv)>1 else 5):
    res['shared'].append(bench([shared,shared])); res['own'].append(bench(own))
    print(r, round(res['shared'][-1],1), round(res['own'][-1],1), flush=True)
import statistics as st
print('median runs/s shared',st.median(res['shared']),'own',st.median(res['own']),'ratio',st.median(res['shared'])/st.median(res['own']))
