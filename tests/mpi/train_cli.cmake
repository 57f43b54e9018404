# `mpirun -np 2 seqnet train EXP --out DIR`: one progress log (rank 0's), one run folder, and the same test
# result as one process.
set(ENV{OMPI_ALLOW_RUN_AS_ROOT} 1)
set(ENV{OMPI_ALLOW_RUN_AS_ROOT_CONFIRM} 1)
set(ENV{SEQNET_NUM_THREADS} 1)
set(ENV{OMPI_MCA_btl} "self,vader")
set(ARGS train ${EXPERIMENT} --epochs 2 --verbose 2 --set dataset.train_samples=400 --set dataset.val_samples=100
    --set dataset.test_samples=100)
file(REMOVE_RECURSE ${WORK_DIR}/one ${WORK_DIR}/two)
execute_process(COMMAND ${SEQNET} ${ARGS} --out ${WORK_DIR}/one RESULT_VARIABLE rc OUTPUT_VARIABLE one_log)
if(rc)
  message(FATAL_ERROR "single-process seqnet train failed (${rc}):\n${one_log}")
endif()
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root -np 2 ${SEQNET} ${ARGS}
                        --out ${WORK_DIR}/two
                RESULT_VARIABLE rc OUTPUT_VARIABLE two_log ERROR_VARIABLE two_err TIMEOUT 300)
if(rc)
  message(FATAL_ERROR "2-rank seqnet train failed (${rc}):\n${two_log}\n${two_err}")
endif()
string(REGEX MATCHALL "Epoch 1/2" epoch_lines "${two_log}")
list(LENGTH epoch_lines n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected rank 0's log alone (one 'Epoch 1/2' line), got ${n}:\n${two_log}")
endif()
string(REGEX MATCHALL "Test:" test_lines "${two_log}")
list(LENGTH test_lines n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one 'Test:' line, got ${n}:\n${two_log}")
endif()
foreach(f run.json history.csv test.json best.keras report.md)
  if(NOT EXISTS ${WORK_DIR}/two/${f})
    message(FATAL_ERROR "the 2-rank run folder lacks ${f}")
  endif()
endforeach()
# Same global batches and seed: the test loss agrees with one process to float rounding (4 decimals shown).
string(REGEX MATCH "Test:[^\n]*" one_test "${one_log}")
string(REGEX MATCH "Test:[^\n]*" two_test "${two_log}")
if(NOT one_test STREQUAL two_test)
  message(FATAL_ERROR "1 process and 2 ranks disagree:\n  ${one_test}\n  ${two_test}")
endif()
message(STATUS "2 ranks: ${two_test}")

# Rank 0 alone fails (its run folder cannot be made; only rank 0 writes): the whole job must stop at once with
# a non-zero exit, not leave rank 1 waiting in its next allreduce forever.
string(TIMESTAMP t0 "%s")
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root -np 2 ${SEQNET} ${ARGS}
                        --out /proc/seqnet-no-such-dir/run
                RESULT_VARIABLE rc OUTPUT_VARIABLE fail_log ERROR_VARIABLE fail_err TIMEOUT 60)
string(TIMESTAMP t1 "%s")
math(EXPR seconds "${t1} - ${t0}")
if(rc EQUAL 0 OR rc MATCHES "timeout" OR seconds GREATER 50)
  message(FATAL_ERROR "a failure of rank 0 alone did not end the job (exit '${rc}' after ${seconds} s):\n${fail_err}")
endif()
if(NOT fail_err MATCHES "seqnet: rank 0: error: ")
  message(FATAL_ERROR "expected rank 0's one-line error, got:\n${fail_err}")
endif()
message(STATUS "rank 0 failing alone ended the job in ${seconds} s (exit ${rc})")
