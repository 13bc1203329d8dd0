;;; dals-e2e.el --- Drive a real `dals lsp' through dals.el; write what happened as JSON  -*- lexical-binding: t; -*-

;; Run by tests/e2e/test_emacs_client.py:
;;   emacs --batch -Q -l test/dals-e2e.el
;; with DALS_E2E_WORKSPACE (a project holding app.py, b.py, c.py and
;; .venv/bin/dals, which `dals-executable' finds by default),
;; DALS_E2E_STATE_DIR (a temporary DALS state dir) and DALS_E2E_RESULT
;; (the JSON file to write).
;; The wrapper asserts on the JSON and stops the runtime (`dals down').
;; Every wait is on a condition, with a deadline.

;;; Code:

(require 'package)
(unless (locate-library "eglot")
  (add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
  (package-initialize))
(add-to-list 'load-path (expand-file-name ".." (file-name-directory
                                                (or load-file-name buffer-file-name))))
(require 'dals)
(require 'json)

(defvar dals-e2e--result (make-hash-table :test #'equal) "What the run saw, for the JSON file.")
(defvar dals-e2e--events nil "(taskId seq kind status) of every dals/taskEvent received, newest first.")
(defvar dals-e2e--lighters nil "Mode line strings seen after $/progress notifications.")

(defvar dals-e2e--start (float-time))
(defvar dals-e2e--times nil "(KEY . seconds since start) of each result, for slow runs.")

(defun dals-e2e--put (key value)
  (push (cons key (/ (round (* 10 (- (float-time) dals-e2e--start))) 10.0)) dals-e2e--times)
  (puthash key value dals-e2e--result))
(defun dals-e2e--bool (value) (if value t :json-false))

(defun dals-e2e--env (name)
  (or (getenv name) (error "%s is not set" name)))

(defun dals-e2e--wait (what predicate timeout)
  "Wait until PREDICATE returns non-nil (its value), or fail naming WHAT after TIMEOUT s."
  (let ((deadline (+ (float-time) timeout)) value)
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or value (error "Timed out after %ss waiting for %s" timeout what))))

(defun dals-e2e--status (id) (plist-get (gethash id dals--tasks) :status))

(defun dals-e2e--wait-status (id statuses timeout)
  "Wait until task ID has one of STATUSES, as the notifications tell; return it.
On timeout the error names the events received for ID and what the task list holds."
  (condition-case err
      (dals-e2e--wait (format "task %s to be %s" id statuses)
                      (lambda () (car (member (dals-e2e--status id) statuses)))
                      timeout)
    (error (error "%s (now %s; events received (seq kind status): %S; task: %S)"
                  (error-message-string err) (dals-e2e--status id)
                  (reverse (cl-loop for (task seq kind status) in dals-e2e--events
                                    when (equal task id) collect (list seq kind status)))
                  (gethash id dals--tasks)))))

(defun dals-e2e--first-line (file)
  (with-temp-buffer (insert-file-contents file) (buffer-substring (point-min) (line-end-position))))

(defun dals-e2e--seqs (id)
  (sort (cl-loop for (task seq) in dals-e2e--events when (equal task id) collect seq) #'<))

(defun dals-e2e--visit (file)
  (find-file-noselect file))

(defun dals-e2e--approvals (ws)
  "Approve one review-mode edit and reject another, or record why that was skipped."
  (let* ((b-file (expand-file-name "b.py" ws))
         (id (with-current-buffer (dals-e2e--visit b-file)
               (dals-start-task "Review me" "review")))
         (status (dals-e2e--wait-status id '("waiting" "succeeded" "failed" "cancelled") 60)))
    (dals-e2e--put "review_first_status" status)
    (if (not (equal status "waiting"))
        ;; The task did not ask: see whether the server supports approvals at all.
        (let ((answer (condition-case err
                          (progn (dals--command (dals--server) "dals.answer"
                                                (list :taskId id :requestId "probe" :decision "approve"))
                                 "answered")
                        (user-error (error-message-string err)))))
          (dals-e2e--put "approval" (if (string-match-p "not supported yet" answer) "skipped" "unexpected"))
          (dals-e2e--put "approval_reason" answer))
      (let* ((pending (dals-show-pending id))
             (diff-buffer (get-buffer "*DALS diff*")))
        (dals-e2e--put "pending_action" (plist-get pending :action))
        (dals-e2e--put "diff_buffer_mode" (symbol-name (buffer-local-value 'major-mode diff-buffer)))
        (dals-e2e--put "diff_text" (with-current-buffer diff-buffer (buffer-string)))
        (dals-e2e--put "b_first_line_while_waiting" (dals-e2e--first-line b-file))
        (dals-e2e--put "lighter_while_waiting" (or (dals--mode-line-string) ""))
        (dals-approve id nil (plist-get pending :requestId))
        (dals-e2e--put "approved_status" (dals-e2e--wait-status id dals--final-statuses 60))
        (dals-e2e--put "b_first_line" (dals-e2e--first-line b-file))
        (dals-e2e--put "approved_seqs" (dals-e2e--seqs id))
        ;; and a rejection
        (let* ((c-file (expand-file-name "c.py" ws))
               (id (with-current-buffer (dals-e2e--visit c-file)
                     (dals-start-task "Reject me" "review"))))
          (dals-e2e--wait-status id '("waiting") 60)
          (dals-reject id "not now")
          (dals-e2e--put "rejected_status" (dals-e2e--wait-status id dals--final-statuses 60))
          (dals-e2e--put "c_first_line" (dals-e2e--first-line c-file)))
        (dals-e2e--put "approval" "done")))))

(defun dals-e2e--managed-buffer (ws)
  "\\[eglot] in a text-mode buffer starts DALS from `eglot-server-programs'.
DALS then manages that buffer, and a task's edit lands in it."
  (let ((eglot-confirm-server-initiated-edits nil) ; eglot would ask before each server edit
        (notes (expand-file-name "notes.txt" ws))
        (side (dals--server)))
    (with-current-buffer (find-file-noselect notes)
      (let ((eglot-sync-connect t))
        (apply #'eglot (eglot--guess-contact)))
      (let ((server (eglot-current-server)))
        (dals-e2e--put "managed_server_class" (symbol-name (eieio-object-class-name server)))
        (dals-e2e--put "managed_server_is_new" (dals-e2e--bool (not (eq server side))))
        (dals-e2e--put "managed_server_used" (dals-e2e--bool (eq (dals--server t) server)))
        (let ((id (dals-start-task "Explain")))
          (dals-e2e--put "managed_status" (dals-e2e--wait-status id dals--final-statuses 60))
          (let ((shown (dals--command server "dals.showTask" (list :taskId id))))
            (dals-e2e--put "managed_edit_via"
                           (or (cl-loop for e across (plist-get shown :events)
                                        when (equal (plist-get e :kind) "edit")
                                        return (plist-get (plist-get e :detail) :via))
                               "disk")))
          (dals-e2e--put "managed_buffer_first_line"
                         (buffer-substring-no-properties (point-min) (line-end-position 1)))
          (dals-e2e--put "managed_file_first_line" (dals-e2e--first-line notes)))))))

(defun dals-e2e--plan (steps)
  "A plan prompt for the offline model: one `/TOOL {json}' line per (TOOL . ARGS-PLIST) of STEPS."
  (mapconcat (lambda (step) (format "/%s %s" (car step) (json-encode (cdr step))))
             steps "\n"))

(defun dals-e2e--text-when (expected timeout)
  "The current buffer's text once it equals EXPECTED, or whatever it is after TIMEOUT s."
  (ignore-errors (dals-e2e--wait "the buffer text" (lambda () (equal (buffer-string) expected)) timeout))
  (buffer-substring-no-properties (point-min) (point-max)))

(defun dals-e2e--wait-published (rel)
  "Wait until the DALS server lists REL as open in the state dir's editor registry.
A task started before that edits the file on disk, not in the buffer."
  (let ((dir (expand-file-name "editors" (getenv "DALS_STATE_DIR"))))
    (dals-e2e--wait (format "%s published as open" rel)
                    (lambda ()
                      (cl-some (lambda (file)
                                 (with-temp-buffer
                                   (ignore-errors (insert-file-contents file))
                                   (search-forward (format "\"%s\"" rel) nil t)))
                               (and (file-directory-p dir) (directory-files dir t "\\.json\\'"))))
                    30)))

(defun dals-e2e--encodings (ws)
  "Issue 17: positions and line breaks through eglot, in buffers DALS manages.
eglot 1.9 offers no `positionEncodings': the server uses LSP's default, UTF-16."
  (let ((eglot-confirm-server-initiated-edits nil)
        (uni (expand-file-name "uni.txt" ws))
        (crlf (expand-file-name "crlf.txt" ws)))
    (with-current-buffer (find-file-noselect uni)
      (let ((server (eglot-current-server)))
        (dals-e2e--put "enc_managed" (dals-e2e--bool (and server (eq (dals--server t) server))))
        (dals-e2e--put "enc_negotiated" (plist-get (eglot--capabilities server) :positionEncoding))
        (dals-e2e--wait-published "uni.txt")
        (let ((id (dals-start-task (concat "Edit through the editor\n"
                                           (dals-e2e--plan '((read_file :path "uni.txt")
                                                             (edit_file :path "uni.txt" :old "wörld" :new "world")
                                                             (edit_file :path "uni.txt" :old "café" :new "coffee ☕")))))))
          (dals-e2e--put "uni_status" (dals-e2e--wait-status id dals--final-statuses 60))
          (dals-e2e--put "uni_buffer" (dals-e2e--text-when "s = \"héllo world 😀 coffee ☕\"\nt = 1\n" 15))
          (dals-e2e--put "uni_modified" (dals-e2e--bool (buffer-modified-p))))))
    (with-current-buffer (find-file-noselect crlf)
      (setq-local require-final-newline nil) ; so that saving shows the buffer's own final newline
      (dals-e2e--put "crlf_eol_type" (coding-system-eol-type buffer-file-coding-system))
      (dals-e2e--wait-published "crlf.txt")
      (let ((id (dals-start-task (concat "Edit through the editor\n"
                                         (dals-e2e--plan '((read_file :path "crlf.txt")
                                                           (edit_file :path "crlf.txt" :old "😀" :new "😀 and\na half")
                                                           (edit_file :path "crlf.txt" :old "three" :new "three 3")))))))
        (dals-e2e--put "crlf_status" (dals-e2e--wait-status id dals--final-statuses 60))
        (dals-e2e--put "crlf_buffer" (dals-e2e--text-when "one\ntwo é 😀 and\na half\nthree 3" 15))
        (dals-e2e--put "crlf_eol_type_after" (coding-system-eol-type buffer-file-coding-system))
        (save-buffer)))))

(defun dals-e2e--run ()
  (let* ((ws (file-name-as-directory (dals-e2e--env "DALS_E2E_WORKSPACE")))
         (app (expand-file-name "app.py" ws))
         (process-environment (copy-sequence process-environment)))
    (setenv "DALS_STATE_DIR" (dals-e2e--env "DALS_E2E_STATE_DIR"))
    (setenv "DALS_MODEL" "offline")
    (setenv "DALS_RESTATE_INGRESS_URL" nil)
    (setenv "DALS_RESTATE_ADMIN_URL" nil)
    (make-directory (expand-file-name ".git" ws) t) ; a project root for project.el
    (advice-add 'dals--handle-event :before
                (lambda (_server event)
                  (push (list (plist-get event :taskId) (plist-get event :seq)
                              (plist-get event :kind) (plist-get event :status))
                        dals-e2e--events)))
    (advice-add 'dals--install-mode-line :after
                (lambda () (push (or (dals--mode-line-string) "") dals-e2e--lighters)))

    (with-current-buffer (dals-e2e--visit app)
      (dals-e2e--put "project_root" (project-root (project-current)))
      (dals-e2e--put "executable" (dals--executable))
      (let ((server (dals-connect)))
        (dals-e2e--put "server_class" (symbol-name (eieio-object-class-name server)))
        (dals-e2e--put "commands" (append (plist-get (plist-get (eglot--capabilities server)
                                                               :executeCommandProvider)
                                                    :commands)
                                          nil))
        ;; DALS runs beside the buffer's own server, not instead of it
        (dals-e2e--put "buffer_managed_by_dals" (dals-e2e--bool (eq (eglot-current-server) server)))
        (dals-e2e--put "server_found_from_buffer" (dals-e2e--bool (eq (dals--server t) server))))

      (let ((id (dals-start-task "Explain")))
        (dals-e2e--put "task_id" id)
        (dals-e2e--put "status" (dals-e2e--wait-status id dals--final-statuses 90))
        (dals-e2e--put "seqs" (dals-e2e--seqs id))
        (dals-e2e--put "kinds" (cl-loop for (task _seq kind) in (reverse dals-e2e--events)
                                        when (equal task id) collect kind))
        ;; the edit event reverted the unmodified buffer already
        (dals-e2e--put "buffer_first_line" (buffer-substring-no-properties (point-min) (line-end-position 1)))
        (revert-buffer t t t)
        (dals-e2e--put "reverted_first_line" (buffer-substring-no-properties (point-min) (line-end-position 1)))
        (dals-e2e--put "file_first_line" (dals-e2e--first-line app))
        (dals-e2e--put "lighters" (delete-dups (reverse dals-e2e--lighters)))
        (dals-e2e--put "lighter_after" (or (dals--mode-line-string) ""))
        ;; (format-mode-line shows nothing in batch: check the construct is in place)
        (dals-e2e--put "lighter_installed"
                       (dals-e2e--bool (member '("" dals-mode-line) global-mode-string)))

        (with-current-buffer (dals-tasks)
          ;; the listTasks answer brings the server's own counts
          (dals-e2e--wait "the task list from dals.listTasks"
                          (lambda () (plist-get (gethash id dals--tasks) :createdAt)) 30)
          (dals-e2e--put "tasks_mode" (symbol-name major-mode))
          (dals-e2e--put "tasks_header" (substring-no-properties header-line-format))
          (dals-e2e--put "tasks_text" (buffer-substring-no-properties (point-min) (point-max)))
          (goto-char (point-min))
          (dals-e2e--put "tasks_id_at_point" (tabulated-list-get-id)))

        (with-current-buffer (dals-show-task id)
          (dals-e2e--put "task_text" (buffer-substring-no-properties (point-min) (point-max))))

        (dals-e2e--put "resume_status" (plist-get (dals-resume-task id) :status))

        ;; the next turn of the finished task, from the tasks buffer (`m' on its line, then the
        ;; prompt typed in the minibuffer), then its transcript
        (let ((last (car (last (dals-e2e--seqs id)))))
          (with-current-buffer (dals-tasks)
            (switch-to-buffer (current-buffer))
            (goto-char (point-min))
            (while (and (not (eobp)) (not (equal (tabulated-list-get-id) id)))
              (forward-line 1))
            (dals-e2e--put "follow_up_from_line" (tabulated-list-get-id))
            (execute-kbd-macro (vconcat "m" "What is in here?" [return])))
          (dals-e2e--wait "the follow-up turn to end"
                          (lambda () (and (> (car (last (dals-e2e--seqs id))) (+ last 2))
                                          (member (dals-e2e--status id) dals--final-statuses)))
                          60)
          (dals-e2e--put "follow_up_turn"
                         (plist-get (dals--command (dals--server) "dals.showTask" (list :taskId id)) :turns))
          (dals-e2e--put "follow_up_status" (dals-e2e--status id))
          (dals-e2e--put "follow_up_seqs" (dals-e2e--seqs id)))
        (with-current-buffer (dals-transcript id)
          (dals-e2e--put "transcript_text" (buffer-substring-no-properties (point-min) (point-max)))))

      ;; a code action on the region (eglot 1.9 cannot resolve them; dals-code-action does)
      (transient-mark-mode 1)
      (goto-char (point-min))
      (forward-line 1)
      (push-mark (point) t t)
      (goto-char (point-max))
      (let ((id (dals-code-action "Explain with DALS")))
        (deactivate-mark)
        (dals-e2e--put "code_action_status" (dals-e2e--wait-status id dals--final-statuses 60))
        (dals-e2e--put "code_action_prompt" (plist-get (gethash id dals--tasks) :prompt))
        (dals-e2e--put "code_action_first_line" (dals-e2e--first-line app))
        ;; "Undo Task's Edits" of the code action's task: what will be reverted first, then the outcome
        (dals-e2e--put "undo_preview" (append (plist-get (dals--command (dals--server) "dals.undoTask"
                                                                        (list :taskId id :dryRun t))
                                                         :revert)
                                              nil))
        (dals-e2e--put "undo_reverted" (append (plist-get (dals-undo-task id t) :reverted) nil))
        (dals-e2e--put "undo_again" (length (plist-get (dals-undo-task id t) :reverted)))
        (dals-e2e--put "undo_first_line" (dals-e2e--first-line app))
        (revert-buffer t t t))

      (dals-e2e--approvals ws)

      (with-current-buffer (dals-e2e--visit app)
        (let ((id (dals-start-task "Wait\n/run_command {\"command\": \"sleep 30\"}")))
          (dals-e2e--wait-status id '("running" "waiting") 60)
          (dals-cancel-task id)
          (dals-e2e--put "cancelled_status" (dals-e2e--wait-status id dals--final-statuses 60))))

      (dals-e2e--managed-buffer ws)

      (with-current-buffer (dals-tasks)
        (dals-e2e--wait "the final task list"
                        (lambda () (string-match-p "cancelled" (buffer-string))) 30)
        (dals-e2e--put "tasks_text_final" (buffer-substring-no-properties (point-min) (point-max))))

      (dals-e2e--encodings ws)

      ;; Let background requests (dals.listTasks) finish before the shutdown.
      (dolist (server (cl-loop for servers being the hash-values of eglot--servers-by-project
                               append servers))
        (dals-e2e--wait "no DALS request in flight"
                        (lambda () (zerop (hash-table-count (jsonrpc--request-continuations server))))
                        30)
        (eglot-shutdown server nil 10 t)))))

(let ((result-file (dals-e2e--env "DALS_E2E_RESULT")))
  (condition-case err
      (dals-e2e--run)
    (error
     (dals-e2e--put "error" (error-message-string err))
     (let ((stderr (cl-find-if (lambda (b) (string-match-p "EGLOT.*stderr" (buffer-name b)))
                               (buffer-list))))
       (when stderr
         (dals-e2e--put "server_stderr" (with-current-buffer stderr
                                          (buffer-substring-no-properties
                                           (max (point-min) (- (point-max) 3000)) (point-max))))))))
  (puthash "times" (reverse dals-e2e--times) dals-e2e--result)
  (with-temp-file result-file (insert (json-encode dals-e2e--result)))
  (kill-emacs 0))

;;; dals-e2e.el ends here
