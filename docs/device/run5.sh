#!/bin/bash
# Fifth device run: final hashmap and conformance binaries; in-process Store scaling before/after the intent sharding.
cd "$(dirname "$0")"
for v in old new; do
  echo "== hashmap $v"
  timeout 70 ./hashmap_$v.test -test.run '^$' -test.bench '(Store|Mix90Load10Store)/Parallel/(atomic|xsync|shm)$' -test.cpu 1,4,16
done 2>&1 | tee $OUT/hashmap5.txt
echo "== hashmap new Load" | tee -a $OUT/hashmap5.txt
timeout 60 ./hashmap_new.test -test.run '^$' -test.bench '^BenchmarkLoad$/(1G|Parallel)/(atomic|xsync|shm|syncMap|RWMutexMap)$' -test.cpu 1,4,16 2>&1 | tee -a $OUT/hashmap5.txt
echo "== hashmap new Store 1G" | tee -a $OUT/hashmap5.txt
timeout 30 ./hashmap_new.test -test.run '^$' -test.bench '^BenchmarkStore$/1G/(atomic|xsync|shm|syncMap|RWMutexMap)$' -test.count 2 2>&1 | tee -a $OUT/hashmap5.txt
echo "== conformance new" | tee -a $OUT/conf5.txt
timeout 60 ./conformance_new.test -test.run '^$' -test.bench 'HashMapProcs|AllocFreeProcs' -test.benchtime 3200000x 2>&1 | tee -a $OUT/conf5.txt
