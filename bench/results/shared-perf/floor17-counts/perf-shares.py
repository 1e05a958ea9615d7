import sys, subprocess, collections, re
def classify(path):
    out = subprocess.run(['perf','script','-i',path,'-F','comm,tid,ip,sym,dso'],capture_output=True,text=True).stdout
    cats = collections.Counter(); total=0
    main_tid=None
    for block in out.split('\n\n'):
        lines=[l for l in block.strip().split('\n') if l.strip()]
        if not lines: continue
        head=lines[0].split()
        frames=lines[1:]
        if not frames: continue
        total+=1
        comm=head[0]
        syms=' '.join(frames)
        leaf=frames[0]
        kernel='kernel.kallsyms' in leaf
        if comm!='node' and not comm.startswith('node'):
            cats['other threads ('+comm[:12]+')']+=1; continue
        if kernel:
            if re.search(r'ksys_write|__x64_sys_writev|__sys_sendto|__x64_sys_sendto|do_writev',syms): k='kernel: write/send'
            elif re.search(r'ksys_read|__sys_recvfrom|__x64_sys_read',syms): k='kernel: read/recv'
            elif re.search(r'do_epoll_wait|epoll_pwait',syms): k='kernel: epoll_wait'
            elif re.search(r'epoll_ctl',syms): k='kernel: epoll_ctl'
            elif re.search(r'accept4',syms): k='kernel: accept'
            elif re.search(r'sys_close|__fput',syms): k='kernel: close'
            elif re.search(r'page_fault',syms): k='kernel: page faults'
            else: k='kernel: other'
        elif 'JIT' in leaf or 'perf-' in leaf: k='user: JIT (JavaScript)'
        elif 'uws_' in leaf: k='user: uws add-on'
        elif 'libc' in leaf: k='user: libc'
        elif re.search(r'Scavenge|MarkCompact|Sweeper|ConcurrentMarking|Heap::|MinorMC|GCTracer|Marking',leaf): k='user: node binary, GC'
        elif re.search(r'compiler::|Compile|Parser|Maglev|baseline',leaf): k='user: node binary, compiler'
        elif re.search(r'Builtins_',leaf): k='user: node binary, V8 builtins'
        elif re.search(r'node::|uv_|uv__',leaf): k='user: node binary, node/libuv C++'
        else: k='user: node binary, V8 runtime/other'
        cats[k]+=1
    return total,cats
for p in sys.argv[1:]:
    t,c=classify(p)
    print('==',p,t)
    for k,v in sorted(c.items()): print(f'  {k:40s} {100*v/t:5.1f} %')
