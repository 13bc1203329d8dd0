;;; dals-test.el --- Unit tests of dals.el, no server needed  -*- lexical-binding: t; -*-

;; Run: emacs --batch -Q -l test/dals-test.el -f ert-run-tests-batch-and-exit

;;; Code:

(require 'package)
(unless (locate-library "eglot")
  ;; Debian's elpa-eglot lives outside the -Q load path.
  (add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
  (package-initialize))
(add-to-list 'load-path (expand-file-name ".." (file-name-directory
                                                (or load-file-name buffer-file-name))))
(require 'ert)
(require 'dals)
(require 'dals-tasks)

(defun dals-test--notice (event &rest over)
  "EVENT as the server sends it: with the task's summary after it (OVER in front),
the steps counted as the server counts them (a fixture standing in for it)."
  (let ((seq (plist-get event :seq)))
    (append event
            (list :summary
                  (append over
                          (list :taskId (plist-get event :taskId) :title "Shout" :status (plist-get event :status)
                                :lastSeq seq :steps (nth seq '(0 0 1 2 3 4 5 5 5))
                                :usageLine (format "%d steps" (nth seq '(0 0 1 2 3 4 5 5 5)))
                                :usage (list :requests 0)))))))

(defconst dals-test--events
  ;; The offline model's events for "Shout" (docs/protocol.md), trimmed.
  (mapcar #'dals-test--notice
          '((:taskId "t1" :seq 1 :kind "status" :title "Task started" :status "running" :at "2026-11-27T04:02:09.008Z")
            (:taskId "t1" :seq 2 :kind "model" :title "Model: read_file" :status "running" :at "2026-11-27T04:02:09.186Z")
            (:taskId "t1" :seq 3 :kind "tool" :title "read_file app.py" :status "running" :at "2026-11-27T04:02:09.263Z")
            (:taskId "t1" :seq 4 :kind "model" :title "Model: edit_file" :status "running" :at "2026-11-27T04:02:09.279Z")
            (:taskId "t1" :seq 5 :kind "edit" :title "edit_file app.py" :status "running" :at "2026-11-27T04:02:09.290Z")
            (:taskId "t1" :seq 6 :kind "model" :title "Model: answer" :status "running" :at "2026-11-27T04:02:09.302Z")
            (:taskId "t1" :seq 7 :kind "status" :title "Task succeeded" :status "succeeded" :at "2026-11-27T04:02:09.313Z"))))

(defmacro dals-test--with-state (&rest body)
  "Run BODY with empty task and progress tables and no server round trips."
  (declare (indent 0))
  `(let ((dals--tasks (make-hash-table :test #'equal))
         (dals--cursors (make-hash-table :test #'equal))
         (dals--progress (make-hash-table :test #'equal))
         (refreshes 0))
     (cl-letf (((symbol-function 'dals--refresh) (lambda (_server) (cl-incf refreshes))))
       (ignore refreshes)
       ,@body)))

(ert-deftest dals-test-initialization-options ()
  (let ((dals-model "offline") (dals-approval "review") (dals-commands-allow '("pytest" "ruff"))
        (dals-restate-ingress-url "http://10.0.0.5:8080") (dals-restate-admin-url "http://10.0.0.5:9070"))
    (should (equal (json-serialize (dals--initialization-options))
                   (concat "{\"dals\":{\"model\":\"offline\",\"approval\":\"review\","
                           "\"restate\":{\"ingressUrl\":\"http://10.0.0.5:8080\","
                           "\"adminUrl\":\"http://10.0.0.5:9070\"},"
                           "\"commands\":{\"allow\":[\"pytest\",\"ruff\"]}}}"))))
  (let ((dals-model nil) (dals-approval nil) (dals-commands-allow 'default)
        (dals-restate-ingress-url nil) (dals-restate-admin-url nil))
    (should (equal (json-serialize (dals--initialization-options)) "{\"dals\":{}}")))
  (let ((dals-model nil) (dals-approval nil) (dals-commands-allow nil)
        (dals-restate-ingress-url nil) (dals-restate-admin-url nil))
    ;; nil is "allow nothing", not "server default"
    (should (equal (json-serialize (dals--initialization-options))
                   "{\"dals\":{\"commands\":{\"allow\":[]}}}"))))

(ert-deftest dals-test-server-program-entry ()
  ;; DALS is the fallback: modes without a server get it, others keep theirs.
  (should (eq (nth 2 (eglot--lookup-mode 'text-mode)) #'dals--contact))
  (should (eq (nth 2 (eglot--lookup-mode 'emacs-lisp-mode)) #'dals--contact))
  (should-not (eq (nth 2 (eglot--lookup-mode 'python-mode)) #'dals--contact))
  (should (= 1 (cl-count #'dals--contact eglot-server-programs :key #'cdr)))
  (let ((root (make-temp-file "dals-proj" t)))
    (unwind-protect
        (let ((default-directory (file-name-as-directory root))
              (project-find-functions (list (lambda (dir) (cons 'transient dir))))
              (dals-executable nil))
          (should (equal (dals--contact) '(eglot-dals "dals" "lsp")))
          (make-directory (expand-file-name ".venv/bin" root) t)
          (let ((exe (expand-file-name ".venv/bin/dals" root)))
            (write-region "#!/bin/sh\n" nil exe)
            (set-file-modes exe #o755)
            (should (equal (dals--contact) (list 'eglot-dals exe "lsp"))))
          (let ((dals-executable "/opt/dals/bin/dals"))
            (should (equal (cadr (dals--contact)) "/opt/dals/bin/dals"))))
      (delete-directory root t))))

(ert-deftest dals-test-capabilities-ask-for-progress ()
  (let* ((process (make-pipe-process :name "dals-test" :noquery t))
         (server (make-instance 'eglot-dals :name "dals-test" :process process)))
    (setf (eglot--project server) (cons 'transient temporary-file-directory))
    (unwind-protect
        (let ((caps (eglot-client-capabilities server)))
          (should (eq t (plist-get (plist-get caps :window) :workDoneProgress)))
          (should (eq t (plist-get (plist-get caps :workspace) :applyEdit)))
          (should (plist-get (eglot-initialization-options server) :dals)))
      (delete-process process))))

(ert-deftest dals-test-capabilities-advertise-diagnostics ()
  (let* ((process (make-pipe-process :name "dals-test" :noquery t))
         (server (make-instance 'eglot-dals :name "dals-test" :process process)))
    (setf (eglot--project server) (cons 'transient temporary-file-directory))
    (unwind-protect
        (let ((caps (eglot-client-capabilities server)))
          (should (eq t (plist-get (plist-get (plist-get caps :experimental) :dals) :diagnostics))))
      (delete-process process))))

(defun dals-test--flymake-backend (report-fn &rest _)
  "A flymake backend that reports one error on line 2 and one note on line 1."
  (funcall report-fn
           (list (flymake-make-diagnostic (current-buffer) 18 23 :error "undefined name 'foo'")
                 (flymake-make-diagnostic (current-buffer) 1 4 :note "unused"))))

(ert-deftest dals-test-diagnostics-answer-from-flymake ()
  (let* ((dir (make-temp-file "dals-test" t))
         (file (expand-file-name "app.py" dir))
         (other (expand-file-name "other.py" dir)))
    (with-temp-file file (insert "def greet():\n    foo()\n"))
    (let ((buffer (find-file-noselect file)))
      (unwind-protect
          (with-current-buffer buffer
            (setq-local flymake-diagnostic-functions '(dals-test--flymake-backend))
            (flymake-mode 1)
            (flymake-start)
            (should (with-timeout (10 nil)
                      (while (< (length (flymake-diagnostics)) 2) (sit-for 0.05))
                      t))
            (let* ((process (make-pipe-process :name "dals-test" :noquery t))
                   (server (make-instance 'eglot-dals :name "dals-test" :process process))
                   (answer (unwind-protect
                               (eglot-handle-request server 'dals/diagnostics :uri (eglot--path-to-uri file))
                             (delete-process process)))
                   (item (aref (plist-get answer :items) 0))
                   (diags (append (plist-get item :diagnostics) nil))
                   (err (seq-find (lambda (d) (= 1 (plist-get d :severity))) diags)))
              (should (equal (plist-get item :uri) (eglot--path-to-uri file)))
              (should (= 2 (length diags)))
              (should (equal (plist-get err :message) "undefined name 'foo'"))
              (should (equal (plist-get (plist-get err :range) :start) '(:line 1 :character 4))))
            ;; every buffer with diagnostics when no uri is given; a file with none: an empty list
            (should (= 1 (length (dals--flymake-items nil))))
            (should (equal (append (dals--flymake-items (eglot--path-to-uri other)) nil)
                           (list (list :uri (eglot--path-to-uri other) :diagnostics [])))))
        (with-current-buffer buffer (set-buffer-modified-p nil))
        (kill-buffer buffer)
        (delete-directory dir t)))))

(ert-deftest dals-test-events-bring-the-summary ()
  (dals-test--with-state
    (dolist (event dals-test--events)
      (apply #'eglot-handle-notification nil 'dals/taskEvent event))
    ;; the summary of the last event, as the server sent it: nothing is counted here
    (should (equal (gethash "t1" dals--tasks) (plist-get (car (last dals-test--events)) :summary)))
    (let ((asked (dals-test--notice
                  '(:taskId "t1" :seq 8 :kind "approval" :title "Write a.py?" :status "waiting"
                    :detail (:requestId "r1" :action "edit" :path "a.py" :diff "-a\n+b" :proposed "b\n"
                             :question "Write a.py?"))
                  :pending '(:requestId "r1" :action "edit" :path "a.py" :proposed "b\n"))))
      (apply #'eglot-handle-notification nil 'dals/taskEvent asked))
    (should (equal (plist-get (plist-get (gethash "t1" dals--tasks) :pending) :proposed) "b\n"))))

(ert-deftest dals-test-a-summary-ahead-of-its-event-skips-no-event ()
  (dals-test--with-state
    (let (seen)
      (let ((dals-task-event-functions (list (lambda (_server event) (push (plist-get event :seq) seen))))
            (ahead (plist-get (nth 2 dals-test--events) :summary)))
        ;; the server read events 1-3 at once: each carries the summary after 3
        (dolist (event (seq-take dals-test--events 3))
          (apply #'eglot-handle-notification nil 'dals/taskEvent (plist-put (copy-sequence event) :summary ahead))))
      (should (equal (nreverse seen) '(1 2 3)))
      (should (= (plist-get (gethash "t1" dals--tasks) :lastSeq) 3)))))

(ert-deftest dals-test-notifications-drop-duplicates-and-refresh-on-gaps ()
  (dals-test--with-state
    (dolist (event (seq-take dals-test--events 3))
      (apply #'eglot-handle-notification nil 'dals/taskEvent event))
    ;; the unknown task asked for the list once, for its title
    (should (= refreshes 1))
    (apply #'eglot-handle-notification nil 'dals/taskEvent (nth 2 dals-test--events))
    (should (= (plist-get (gethash "t1" dals--tasks) :steps) 2))
    ;; a gap (4 is missing) asks the server again; so does the end
    (apply #'eglot-handle-notification nil 'dals/taskEvent (nth 4 dals-test--events))
    (should (= refreshes 2))
    (apply #'eglot-handle-notification nil 'dals/taskEvent (nth 6 dals-test--events))
    (should (= refreshes 3))
    (should (equal (plist-get (gethash "t1" dals--tasks) :status) "succeeded"))
    ;; a stale summary does not undo newer events; a current one replaces them
    (dals--merge-summaries '((:taskId "t1" :lastSeq 5 :status "running" :steps 4)))
    (should (equal (plist-get (gethash "t1" dals--tasks) :status) "succeeded"))
    (dals--merge-summaries '((:taskId "t1" :lastSeq 7 :status "succeeded" :steps 5 :title "Shout")))
    (should (= (plist-get (gethash "t1" dals--tasks) :steps) 5))))

(ert-deftest dals-test-edit-events-revert-unmodified-buffers ()
  (dals-test--with-state
    (let* ((root (file-name-as-directory (make-temp-file "dals-ws" t)))
           (file (expand-file-name "app.py" root))
           (dals-revert-edited-buffers t))
      (unwind-protect
          (progn
            (write-region "print('hello')\n" nil file)
            (puthash "t2" (list :taskId "t2" :workspace root :lastSeq 0) dals--tasks)
            (with-current-buffer (find-file-noselect file)
              (write-region "# DALS: Explain\nprint('hello')\n" nil file)
              (apply #'eglot-handle-notification
               nil 'dals/taskEvent
               '(:taskId "t2" :seq 1 :kind "edit" :title "write_file app.py" :status "running"
                 :detail (:path "app.py" :sha "sha256:x" :diff "")))
              (should (equal (buffer-substring (point-min) (line-end-position 1))
                             "# DALS: Explain"))
              (kill-buffer)))
        (delete-directory root t)))))

(ert-deftest dals-test-mode-line ()
  (dals-test--with-state
    (cl-letf (((symbol-function 'jsonrpc-running-p) (lambda (_) t)))
      (should-not (dals--mode-line-string))
      (puthash "dals-task-a" 'server dals--progress)
      (puthash "dals-task-b" 'server dals--progress)
      (should (equal (dals--mode-line-string) " DALS[2 running]"))
      (puthash "b" '(:taskId "b" :status "waiting") dals--tasks)
      (should (equal (dals--mode-line-string) " DALS[1 running, 1 waiting]"))
      (puthash "a" '(:taskId "a" :status "succeeded") dals--tasks) ; its progress ends next
      (should (equal (dals--mode-line-string) " DALS[1 waiting]"))
      (remhash "dals-task-a" dals--progress)
      (should (equal (dals--mode-line-string) " DALS[1 waiting]")))))

(ert-deftest dals-test-start-args-name-file-and-region ()
  (let ((file (make-temp-file "dals-args" nil ".py" "one\ntwo\nthree\n")))
    (unwind-protect
        (with-current-buffer (find-file-noselect file)
          (should (equal (dals--start-args "Explain")
                         (list :prompt "Explain" :uri (eglot--path-to-uri file))))
          (transient-mark-mode 1)
          (goto-char (point-min))
          (forward-line 1)
          (push-mark (point) t t)
          (forward-line 1)
          (end-of-line)
          (let ((args (dals--start-args "Fix" "review")))
            (should (equal (plist-get args :range)
                           '(:start (:line 1 :character 0) :end (:line 2 :character 5))))
            (should (equal (plist-get args :mode) "review")))
          (kill-buffer))
      (delete-file file))))

(ert-deftest dals-test-tasks-buffer-lists-tasks ()
  (dals-test--with-state
    (puthash "20261127-040208-c09169"
             '(:taskId "20261127-040208-c09169" :title "Shout" :status "succeeded" :steps 5
               :usage (:requests 3))
             dals--tasks)
    (puthash "20261127-040311-5ab51e"
             '(:taskId "20261127-040311-5ab51e" :title "Wait" :status "running" :steps 1
               :usage (:requests 1))
             dals--tasks)
    (with-temp-buffer
      (dals-tasks-mode)
      (tabulated-list-print)
      (goto-char (point-min))
      ;; newest first
      (should (equal (tabulated-list-get-id) "20261127-040311-5ab51e"))
      (should (string-match-p "20261127-040208-c09169 succeeded +5 +3 Shout" (buffer-string))))))

(ert-deftest dals-test-tasks-buffer-orders-tasks-of-one-second-by-creation-time ()
  ;; same second, the random part of the ids in the other order: createdAt decides
  (dals-test--with-state
    (puthash "20261127-040208-ffffff"
             '(:taskId "20261127-040208-ffffff" :title "First" :status "succeeded" :steps 1
               :createdAt "2026-11-27T04:02:08.100Z" :usage (:requests 1))
             dals--tasks)
    (puthash "20261127-040208-000000"
             '(:taskId "20261127-040208-000000" :title "Second" :status "running" :steps 1
               :createdAt "2026-11-27T04:02:08.900Z" :usage (:requests 1))
             dals--tasks)
    (puthash "20261127-040209-aaaaaa"  ; known from its events only: its id's seconds stand in
             '(:taskId "20261127-040209-aaaaaa" :title "Third" :status "queued" :steps 0
               :usage (:requests 0))
             dals--tasks)
    (should (equal (mapcar #'car (dals--tasks-entries))
                   '("20261127-040209-aaaaaa" "20261127-040208-000000" "20261127-040208-ffffff")))))

;;;; Provider failures, cost and replays

(defconst dals-test--reason
  "openai-chat:gpt-4.1: 429 Too Many Requests (rate limit reached for requests)")

(defun dals-test--failure-events ()
  "A provider failing twice, the task paused, then resumed (server/dals/durable/task_record.py)."
  (let ((reason dals-test--reason))
    (list
     (list :taskId "t1" :seq 2 :kind "status" :status "retrying" :at "2026-11-27T06:00:00.000Z"
           :title (concat "Retrying in 0.4 s (attempt 1 of 2 failed): " reason)
           :detail (list :reason reason :attempt 1 :maxAttempts 2 :delayS 0.4))
     (list :taskId "t1" :seq 3 :kind "status" :status "paused" :at "2026-11-27T06:00:01.000Z"
           :title (concat "Paused after 2 failed attempts: " reason)
           :detail (list :reason reason :attempts 2))
     (list :taskId "t1" :seq 4 :kind "status" :status "running" :at "2026-11-27T06:00:02.000Z"
           :title "Resumed"))))

(defun dals-test--priced-task (&rest over)
  "A finished task that replayed from the journal, with OVER in front."
  (append over
          (list :taskId "20261127-060000-aaaaaa" :title "Fix the tests" :status "succeeded" :steps 7
                :usageLine (concat "7 steps, 4 model requests (2 replayed, 9,120 tokens saved ~$0.0190), "
                                   "12,345/678 tokens in/out, cost ~$0.0312")
                :model "openai-chat:gpt-4.1" :mode "auto" :lastSeq 0 :lastFailure nil
                :usage (list :requests 4 :inputTokens 12345 :outputTokens 678 :toolCalls 3
                             :costUsd 0.0312 :replayedRequests 2 :replayedInputTokens 9000
                             :replayedOutputTokens 120 :savedUsd 0.01896)
                :events nil)))

(ert-deftest dals-test-task-buffer-shows-cost-and-last-failure ()
  (with-temp-buffer
    (dals-task-mode)
    (dals--render-task (dals-test--priced-task))
    (should (string-match-p (regexp-quote
                             (concat "Usage:         7 steps, 4 model requests (2 replayed, 9,120 tokens saved"
                                     " ~$0.0190), 12,345/678 tokens in/out, cost ~$0.0312"))
                            (buffer-string)))
    (should-not (string-match-p "Last failure" (buffer-string)))
    (dals--render-task (dals-test--priced-task :status "paused" :lastFailure dals-test--reason
                                               :events (dals-test--failure-events)))
    (let ((text (buffer-string)))
      (should (string-match-p "^Task:          20261127-060000-aaaaaa  paused  (R retries now)$" text))
      (should (string-match-p (concat "^Last failure:  " (regexp-quote dals-test--reason) "$") text))
      (should (string-match-p "Paused after 2 failed attempts" text)))
    (goto-char (point-min))
    (search-forward "Last failure:  ")
    (should (eq (get-text-property (point) 'face) 'error))))

(ert-deftest dals-test-tasks-buffer-shows-retrying-and-paused ()
  (dals-test--with-state
    (puthash "20261127-060100-bbbbbb"
             (list :taskId "20261127-060100-bbbbbb" :title "Refactor" :status "paused" :steps 2
                   :lastFailure dals-test--reason :usage '(:requests 1))
             dals--tasks)
    (puthash "20261127-060300-dddddd"
             (list :taskId "20261127-060300-dddddd" :title "Count" :status "retrying" :steps 1
                   :lastFailure (concat dals-test--reason "\nTraceback: …") :usage '(:requests 1))
             dals--tasks)
    (with-temp-buffer
      (dals-tasks-mode)
      (tabulated-list-print)
      (let ((text (buffer-string)))
        (should (string-match-p (concat "retrying +1 +1 Count  \\[retrying: "
                                        (regexp-quote dals-test--reason) "; R resumes\\]$")
                                text))
        (should (string-match-p (concat "paused +2 +1 Refactor  \\[paused: "
                                        (regexp-quote dals-test--reason) "; R resumes\\]$")
                                text)))
      (goto-char (point-min))
      (search-forward "[paused:")
      (should (eq (get-text-property (point) 'face) 'error))
      (search-backward " paused ")
      (should (eq (get-text-property (1+ (point)) 'face) 'error))
      ;; R on the retrying row resumes it at once
      (goto-char (point-min))
      (search-forward "Count")
      (let (sent)
        (cl-letf (((symbol-function 'dals--server) (lambda () 'server))
                  ((symbol-function 'dals--command)
                   (lambda (_server command arg)
                     (push (list command (plist-get arg :taskId)) sent)
                     (list :taskId (plist-get arg :taskId) :status "running"))))
          (call-interactively #'dals-resume-task))
        (should (equal sent '(("dals.resumeTask" "20261127-060300-dddddd")))))
      (should (= refreshes 1)))
    (cl-letf (((symbol-function 'jsonrpc-running-p) (lambda (_) t)))
      (puthash "dals-task-20261127-060300-dddddd" 'server dals--progress)
      ;; a retrying task's progress has not ended: it is counted as retrying, not running
      (should (equal (dals--mode-line-string) " DALS[1 retrying, 1 paused]")))))

;; A server that answers the first request and, in the same write, sends a
;; notification: the reply to an approval and the task events it sets off.
(defconst dals-test--one-chunk-server "
import json, os, sys
head = b''
while not head.endswith(b'\\r\\n\\r\\n'):
    head += os.read(0, 1)
length = int([h for h in head.split(b'\\r\\n') if h.lower().startswith(b'content-length')][0].split(b':')[1])
body = b''
while len(body) < length:
    body += os.read(0, length - len(body))
rid = json.loads(body)['id']
def frame(msg):
    data = json.dumps(msg).encode()
    return b'Content-Length: %d\\r\\n\\r\\n' % len(data) + data
os.write(1, frame({'jsonrpc': '2.0', 'id': rid, 'result': {'ok': True}})
         + frame({'jsonrpc': '2.0', 'method': 'dals/taskEvent', 'params': {'seq': 6}}))
sys.stdin.read()
")

(ert-deftest dals-test-request-leaves-no-message-unread ()
  ;; jsonrpc.el's `jsonrpc-request' throws out of the process filter when
  ;; the reply comes, so a notification in the same chunk stays unread
  ;; until the server writes again; `dals--request' must read it.
  (let* ((seen nil)
         (process (make-process :name "dals-test-server" :command (list "python3" "-c" dals-test--one-chunk-server)
                                :connection-type 'pipe :noquery t))
         (conn (jsonrpc-process-connection :name "dals-test" :process process
                                           :notification-dispatcher
                                           (lambda (_conn method params)
                                             (push (cons method params) seen)))))
    (unwind-protect
        (progn
          (should (equal (dals--request conn :workspace/executeCommand '(:command "dals.answer"))
                         '(:ok t)))
          ;; no more output will come: the notification was read with the reply
          (should (equal seen '((dals/taskEvent :seq 6)))))
      (jsonrpc-shutdown conn t))))

(provide 'dals-test)
;;; dals-test.el ends here

(ert-deftest dals-test-transcript-shows-live-text-until-its-event ()
  (require 'dals-conversation)
  (let ((buffer (get-buffer-create (dals--transcript-buffer-name "t-live"))))
    (unwind-protect
        (progn
          (dals--transcript-fill buffer "# T\n")
          (dals--transcript-on-delta nil '(:taskId "t-live" :seq 5 :text "Hel"))
          (dals--transcript-on-delta nil '(:taskId "t-live" :seq 5 :text "lo"))
          (should (equal (with-current-buffer buffer (buffer-string))
                         "# T\n\n## Agent (writing…)\n\nHello\n"))
          ;; the event it becomes ends the live text (the transcript is then fetched again)
          (cl-letf (((symbol-function 'dals--command-async) #'ignore))
            (dals--transcript-on-event nil '(:taskId "t-live" :seq 5)))
          (dals--transcript-fill buffer "# T\n\n## Agent\n\nHello.\n")
          (should (equal (with-current-buffer buffer (buffer-string)) "# T\n\n## Agent\n\nHello.\n")))
      (kill-buffer buffer))))
